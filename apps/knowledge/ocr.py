"""Reading the text in a customer's image: the one client of the OCR model.

rapidocr-onnxruntime ships Chinese PP-OCRv4 detection/recognition models inside its wheel and
runs them on onnxruntime (CPU), so nothing is downloaded at run time. The engine is loaded once
per process; a small pool (DESK_OCR_CONCURRENCY threads) keeps the llm worker's many threads
from running many OCRs at once on a few cores (each run is already multi-threaded inside
onnxruntime), and a caller waits at most DESK_OCR_TIMEOUT_SECONDS for its turn and its result.
"""

import io
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from django.conf import settings
from PIL import Image, ImageOps

from apps.conversations.pipeline import ImageText, ImageUnreadable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float


@dataclass(frozen=True)
class OcrResult:
    lines: list[OcrLine]
    ms: int

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


class OcrError(ImageUnreadable):
    """The image could not be decoded or the engine failed: treat as unreadable."""


@cache
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    # Detection at the image's own scale (bounded by DESK_OCR_MAX_SIDE) instead of the default
    # upscaling of the short side to 736 px, which made a small screenshot four times slower.
    return RapidOCR(det_limit_type="max", det_limit_side_len=settings.DESK_OCR_MAX_SIDE)


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, settings.DESK_OCR_CONCURRENCY), thread_name_prefix="ocr")


def _pixels(data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
            image.thumbnail((settings.DESK_OCR_MAX_SIDE, settings.DESK_OCR_MAX_SIDE))
            # RapidOCR works in OpenCV's BGR order.
            return np.asarray(image)[:, :, ::-1].copy()
    except Exception as exc:  # Pillow raises many kinds for a broken file
        raise OcrError(f"cannot decode the image: {exc}") from exc


def image_read_text(*, data: bytes) -> OcrResult:
    """The lines of text in the image, top to bottom, above the confidence floor."""
    pixels = _pixels(data)
    started = time.monotonic()
    # A run past the timeout finishes in its pool thread (onnxruntime cannot be interrupted), but
    # the pool's size still bounds the cores OCR takes, and the caller moves on.
    future = _pool().submit(_engine(), pixels)
    try:
        found, _ = future.result(timeout=settings.DESK_OCR_TIMEOUT_SECONDS)
    except FutureTimeout as exc:
        future.cancel()
        raise OcrError(f"OCR took longer than {settings.DESK_OCR_TIMEOUT_SECONDS:g} s") from exc
    except Exception as exc:
        raise OcrError(f"OCR failed: {exc}") from exc
    lines = [
        OcrLine(text=str(text).strip(), confidence=float(score))
        for _, text, score in (found or [])
        if str(text).strip() and float(score) >= settings.DESK_OCR_MIN_CONFIDENCE
    ]
    return OcrResult(lines=lines, ms=int((time.monotonic() - started) * 1000))


class RapidOcrReader:
    """The spine's image-reading step (DESK_IMAGE_READER): RapidOCR, Chinese and English."""

    def read(self, *, data: bytes) -> ImageText:
        result = image_read_text(data=data)
        return ImageText(text=result.text, ms=result.ms)
