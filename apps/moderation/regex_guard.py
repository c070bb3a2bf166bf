"""Refuse regular expressions that could stall a worker, before they are saved.

Every regex term runs on every message, so one catastrophic pattern ((a+)+$ and kin)
would turn a 10 µs check into seconds. Three layers: a static look at the parsed pattern
for nested or overlapping unbounded repetition and backreferences; a timed trial on
adversarial input; and, at match time, the ``regex`` module's timeout as the last resort.
"""

import re
import re._constants as sre_constants
import re._parser as sre_parse
from typing import Any

import regex
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_PATTERN_LENGTH = 300
MAX_BOUNDED_REPEAT = 100
TRIAL_TIMEOUT_SECONDS = 0.05

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT}
_UNBOUNDED = sre_constants.MAXREPEAT


def compile_term(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern, regex.VERSION0)


def validate_regex_term(pattern: str) -> None:
    """Raise ValidationError with a reason a person can act on, or return if the pattern is safe."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValidationError(
            _("The pattern is longer than %(limit)d characters."),
            code="regex_too_long",
            params={"limit": MAX_PATTERN_LENGTH},
        )
    try:
        parsed = sre_parse.parse(pattern)
        compile_term(pattern)
    except (re.error, regex.error) as exc:
        raise ValidationError(
            _("The pattern is not a valid regular expression: %(error)s"),
            code="regex_invalid",
            params={"error": str(exc)},
        ) from exc
    problem = _static_problem(list(parsed), inside_repeat=False)
    if problem:
        raise ValidationError(
            _("The pattern could take too long on some messages (%(problem)s); rewrite it without that construct."),
            code="regex_catastrophic",
            params={"problem": problem},
        )
    if _trial_times_out(pattern):
        raise ValidationError(
            _("The pattern took too long on a test message; rewrite it without nested or overlapping repetition."),
            code="regex_slow",
        )


def _static_problem(items: list[tuple[Any, Any]], *, inside_repeat: bool) -> str:
    for op, arg in items:
        if op == sre_constants.GROUPREF or op == sre_constants.GROUPREF_EXISTS:
            return "backreference"
        if op in _REPEATS:
            _low, high, body = arg
            unbounded = high == _UNBOUNDED
            if not unbounded and high > MAX_BOUNDED_REPEAT:
                return f"repetition bound {high} above {MAX_BOUNDED_REPEAT}"
            body_items = list(body)
            if (unbounded or high > 1) and inside_repeat:
                return "nested repetition"
            if unbounded and _has_overlapping_alternatives(body_items):
                return "repeated alternatives that overlap"
            found = _static_problem(body_items, inside_repeat=inside_repeat or unbounded or high > 1)
            if found:
                return found
        elif op == sre_constants.SUBPATTERN:
            found = _static_problem(list(arg[-1]), inside_repeat=inside_repeat)
            if found:
                return found
        elif op == sre_constants.BRANCH:
            for branch in arg[1]:
                found = _static_problem(list(branch), inside_repeat=inside_repeat)
                if found:
                    return found
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            found = _static_problem(list(arg[1]), inside_repeat=inside_repeat)
            if found:
                return found
    return ""


def _has_overlapping_alternatives(items: list[tuple[Any, Any]]) -> bool:
    """(a|a)* and (a|ab)*: branches under a star that can start with the same character."""
    for op, arg in items:
        if op == sre_constants.SUBPATTERN:
            return _has_overlapping_alternatives(list(arg[-1]))
        if op == sre_constants.BRANCH:
            firsts = [_first_literal(list(branch)) for branch in arg[1]]
            if None in firsts:
                return True  # a branch that starts with a class or anything: assume overlap
            return len(set(firsts)) < len(firsts)
    return False


def _first_literal(items: list[tuple[Any, Any]]) -> int | None:
    if not items:
        return None
    op, arg = items[0]
    if op == sre_constants.LITERAL:
        return int(arg)
    if op == sre_constants.SUBPATTERN:
        return _first_literal(list(arg[-1]))
    return None


def _trial_times_out(pattern: str) -> bool:
    compiled = compile_term(pattern)
    literals = {c for c in pattern if c.isalnum()} or {"a"}
    samples = [c * 2000 + "!" for c in sorted(literals)[:10]] + ["傻逼" * 1000 + "!", " " * 2000 + "x"]
    for sample in samples:
        try:
            compiled.search(sample, timeout=TRIAL_TIMEOUT_SECONDS)
        except TimeoutError:
            return True
    return False


_DIGITS = range(ord("0"), ord("9") + 1)
_BRACES = re.compile(r"\{[^{}]*\}?")
_COUNTED = re.compile(r"\{\d*(?:,\d*)?\}")


def required_digit_run(pattern: str) -> int:
    """How many digits in a row any match of ``pattern`` must contain (0 = no such bound), read
    from the parsed pattern. Every regex term runs on every message, and the regex module's search
    with its timeout costs several µs even on a miss; a phone or ID pattern cannot match a message
    without its digit run, which the matcher checks with a substring search on the kind bytes."""
    if any(not _COUNTED.fullmatch(brace) for brace in _BRACES.findall(pattern)):
        return 0  # a fuzzy constraint ({e<=1}) of the regex module, which sre_parse reads as text
    try:
        items = list(sre_parse.parse(pattern))
    except re.error:
        return 0  # the regex module's own syntax (\p{..}, (?V1)…): no bound, always searched
    best = run = 0
    for op, arg in items:
        if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT, sre_constants.AT):
            continue  # zero-width: the characters on either side are still consecutive
        if _digit_only(op, arg):
            run += 1
        elif op in _REPEATS and len(body := list(arg[2])) == 1 and _digit_only(*body[0]):
            run += arg[0]  # at least the minimum, all digits, all in a row
        else:
            run = 0
        best = max(best, run)
    return best


def _digit_only(op: Any, arg: Any) -> bool:
    """Does this item match only characters that \\d matches? (Literal digits, [0-9], \\d.)"""
    if op == sre_constants.LITERAL:
        return arg in _DIGITS
    if op != sre_constants.IN:
        return False
    for item_op, item_arg in arg:
        if item_op == sre_constants.LITERAL and item_arg in _DIGITS:
            continue
        if item_op == sre_constants.RANGE and item_arg[0] in _DIGITS and item_arg[1] in _DIGITS:
            continue
        if item_op == sre_constants.CATEGORY and item_arg == sre_constants.CATEGORY_DIGIT:
            continue
        return False  # NEGATE, other classes and categories
    return True
