"""An image reader for tests (DESK_IMAGE_READER) that needs no OCR model: it reads the words a
PNG carries in its ``say`` text chunk. Child processes (worker, web) import it by path too."""

import io

from PIL import Image, PngImagePlugin

from apps.conversations.pipeline import ImageText, ImageUnreadable

READER = "tests.console.readers.PngTextReader"


class PngTextReader:
    def read(self, *, data: bytes) -> ImageText:
        try:
            with Image.open(io.BytesIO(data)) as image:
                return ImageText(text=str(getattr(image, "text", {}).get("say", "")))
        except OSError as exc:
            raise ImageUnreadable(str(exc)) from exc


def png_saying(
    words: str = "", *, size: tuple[int, int] = (640, 480), color: tuple[int, int, int] = (40, 140, 220)
) -> bytes:
    """A real, complete PNG whose ``say`` chunk PngTextReader reads as its text."""
    info = PngImagePlugin.PngInfo()
    if words:
        info.add_text("say", words, zip=True)
    image = Image.new("RGB", size, color)
    for x in range(0, size[0], 40):  # some structure, so the picture is recognisable in screenshots
        for y in range(size[1] // 3, min(size[1], size[1] // 3 + 40)):
            image.putpixel((x, y), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()
