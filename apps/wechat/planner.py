"""The reply planner shared by WeChat channels.

WeChat caps a text message in bytes (2048 for OA and kf) and allows a handful of messages
per customer message (5 within 48 h). An answer is cut into the fewest segments that fit,
on sentence boundaries; when even that needs more messages than the budget allows, the last
allowed one carries what fits and an offer of a human instead of the rest.
"""

import re

# A sentence ends after terminal punctuation (with any closing quotes/brackets) or a newline.
_SENTENCE_END = re.compile(r"[。！？!?；;…\n]+[”’」』）)\]\"']*|\.+[”’)\]\"']*(?=\s)")
# Inside an over-long sentence, these are the next best places to cut.
_SOFT_BREAK = re.compile(r"(?<=[，,、：:\s])")


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def sentences(text: str) -> list[str]:
    """Split keeping every character: ''.join(sentences(text)) == text."""
    parts: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end > start:
            parts.append(text[start:end])
            start = end
    if start < len(text):
        parts.append(text[start:])
    return parts


def _hard_split(piece: str, max_bytes: int) -> list[str]:
    """Cut a sentence longer than the limit: at a comma or space if one fits, else at a character."""
    out: list[str] = []
    while _nbytes(piece) > max_bytes:
        cut = _longest_prefix(piece, max_bytes)
        soft = [m.start() for m in _SOFT_BREAK.finditer(piece, 0, cut) if m.start() > 0]
        if soft and soft[-1] > cut // 2:
            cut = soft[-1]
        out.append(piece[:cut])
        piece = piece[cut:]
    if piece:
        out.append(piece)
    return out


def _longest_prefix(text: str, max_bytes: int) -> int:
    """Number of characters of ``text`` whose UTF-8 encoding fits in ``max_bytes``."""
    encoded = text.encode("utf-8")[:max_bytes]
    return len(encoded.decode("utf-8", errors="ignore"))


def split_text(text: str, *, max_bytes: int) -> list[str]:
    """The fewest segments of at most ``max_bytes`` each, cut between sentences where possible."""
    segments: list[str] = []
    current = ""
    for sentence in sentences(text):
        for piece in _hard_split(sentence, max_bytes) if _nbytes(sentence) > max_bytes else [sentence]:
            if current and _nbytes(current + piece) > max_bytes:
                segments.append(current)
                current = ""
            current += piece
    if current:
        segments.append(current)
    return [segment for segment in segments if segment.strip()] or ([text] if text.strip() else [])


def reply_plan(*, text: str, max_bytes: int, budget: int, notice: str) -> list[str]:
    """Segments to send for ``text`` using at most ``budget`` messages."""
    if budget <= 0:
        return []
    segments = split_text(text, max_bytes=max_bytes)
    if len(segments) <= budget:
        return segments
    kept = segments[: budget - 1]
    room = max_bytes - _nbytes(notice)
    tail = ""
    for sentence in sentences("".join(segments[budget - 1 :])):
        if _nbytes(tail + sentence) > room:
            break
        tail += sentence
    return [*kept, tail + notice]
