"""Files customers and agents send, made here: pictures of Chinese text, voice notes, videos, and
the broken ones (truncated, decompression bombs, text that claims to be a picture)."""

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# An AMR-NB header and silent frames, as WeChat stores voice notes; an MP4 starts with an ftyp box.
AMR = b"#!AMR\n" + b"\x3c" + bytes(31) * 50
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(2000)


def text_png(lines: list[str], *, size: tuple[int, int] = (720, 200)) -> bytes:
    """A picture of Chinese text, drawn with the CJK font Debian ships (fonts-noto-cjk)."""
    if not CJK_FONT.is_file():
        pytest.skip("fonts-noto-cjk is not installed")
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(CJK_FONT), 44)
    for i, line in enumerate(lines):
        draw.text((30, 40 + i * 80), line, font=font, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def photo_jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = photo_jpeg()
    return data[: len(data) // 2]


def png_bomb(side: int = 60_000) -> bytes:
    """A small valid PNG whose header claims side x side pixels (3.6 billion): a decompression bomb."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    # IHDR is the first chunk: length(4) type(4) width(4) height(4) ... then the CRC of type + data.
    data[16:24] = struct.pack(">II", side, side)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)
