"""Log filter that masks personal data before any handler sees it.

Customers write phone numbers, ID numbers and bank cards into chats; a log line quoting a
message must not carry them. Masked, keeping a few digits so lines can still be correlated:
mainland mobile numbers (optional +86 / 0086 / 86 prefix, optionally grouped 3-4-4 by spaces
or dashes), 18-digit resident ID numbers (with a valid check digit and birth date) and 13-19
digit card numbers (Luhn-valid, from a card issuer's range).

Everything else a log line is made of must survive: Celery's "succeeded in 0.02479823749845s",
task UUIDs, hex digests, epoch timestamps, ports, message and stream ids. So a number counts
only when it stands on its own (not glued to letters, or to a word through "." or "-", as in a
decimal, a UUID or a version), and the checks above reject what merely has the right length:
epoch seconds to nanoseconds start with 1, which no card issuer does, and an arbitrary 18-digit
id rarely has a valid check digit and birth date.

Standard library only: the Wechaty bridge, which runs without Django in its own virtualenv,
attaches this filter too.
"""

import datetime
import logging
import re

# A number is "on its own" when no letter, digit, "_" or mask "*" touches it, and no "." or "-"
# joins it to a word on either side (0.0247..., 3f2a...-1381..., v1.2, 1764248734123-0).
_WORD = "0-9A-Za-z_*"
_BEFORE = rf"(?<![{_WORD}])(?<![{_WORD}][.\-])"
_AFTER = rf"(?![{_WORD}])(?![.\-][{_WORD}])"

_MOBILE = re.compile(
    _BEFORE + r"(?P<cc>(?:\+|00)?86[ \-]?)?(?P<head>1[3-9]\d)(?P<sep>[ \-]?)\d{4}(?P=sep)(?P<tail>\d{4})" + _AFTER
)
_ID_CARD = re.compile(_BEFORE + r"\d{6}(?P<sep>[ \-]?)\d{8}(?P=sep)\d{3}[\dXx]" + _AFTER)
# Issuer ranges: 2221-2720 (Mastercard), 3 (Amex, JCB), 4 (Visa), 5 (Mastercard), 6 (UnionPay,
# Discover), 9 (older domestic cards). Written as one run of digits or in groups of four.
_CARD = re.compile(_BEFORE + r"[2-69]\d{3}(?:\d{9,15}|(?:(?P<sep>[ \-])\d{4}){2,3}(?:(?P=sep)\d{1,4})?)" + _AFTER)
# A card-shaped number named as a message id ("message 4111...", "msgid=...") or joined by ":" to
# an id-like word ("<AppID>:<MsgId>") is that id: WeChat's message ids are 64-bit numbers, and
# one in ten of those passes Luhn.
_NAMED_ID = re.compile(
    r"(?:\b(?:message|msg|msgid|msg_id|message_id|reply)[ =:#]*"
    r"|(?<![0-9A-Za-z_])(?=[0-9A-Za-z_]*\d)[0-9A-Za-z_]{6,}:)$",
    re.IGNORECASE,
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit() or ch in "Xx")


def _is_resident_id(number: str) -> bool:
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != number[17].upper() or number[0] == "0":
        return False
    try:
        born = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return datetime.date(1900, 1, 1) <= born <= datetime.date.today()


def _is_card(number: str) -> bool:
    if not 13 <= len(number) <= 19:
        return False
    # The 2-series is Mastercard's, 16 digits only; WeChat's 17-digit MsgIds start with 2 too.
    if number[0] == "2" and (len(number) != 16 or not "2221" <= number[:4] <= "2720"):
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def _mask_mobile(match: re.Match[str]) -> str:
    sep = match["sep"]
    return f"{match['cc'] or ''}{match['head']}{sep}****{sep}{match['tail']}"


def _mask_id(match: re.Match[str]) -> str:
    number = _digits(match[0])
    return f"{number[:6]}********{number[-4:]}" if _is_resident_id(number) else match[0]


def _mask_card(match: re.Match[str]) -> str:
    number = _digits(match[0])
    if not _is_card(number) or _NAMED_ID.search(match.string, max(0, match.start() - 40), match.start()):
        return match[0]
    return f"{number[:4]}********{number[-4:]}"


def mask_pii(text: str) -> str:
    text = _ID_CARD.sub(_mask_id, text)
    text = _MOBILE.sub(_mask_mobile, text)
    return _CARD.sub(_mask_card, text)


class PiiMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_pii(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_pii(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_pii(record.exc_text)
        return True
