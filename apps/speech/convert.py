"""Decoding WeChat's voice notes: 16 kHz mono PCM for the speech model, MP3 for the agent's browser.

WeChat sends AMR-NB (Official Account, WeCom) or SILK v3 (personal WeChat through Wechaty); the
channels' other audio is MP3, WAV, Ogg or M4A. Everything is first decoded to PCM:
- SILK by the silk-python wheel (the SILK SDK, compiled), in memory;
- AMR by sox, which decodes through Debian's libopencore-amrnb (the reference decoder). ffmpeg's
  own AMR decoder does not implement DTX: the comfort-noise frames that encoders write in pauses
  are dropped with "Corrupt bitstream" errors, which shortens the note and turns a quiet one into
  no audio at all. ffmpeg stays the fallback when sox is not installed;
- the rest by Debian's ffmpeg.
The MP3 for the browser is then encoded from that PCM.

The bytes never touch the disk (the console keeps customers' files decrypted in memory only):
ffmpeg reads them from an anonymous in-memory file (memfd), which unlike a pipe is seekable, so an
M4A whose index sits at the end still decodes. The demuxer is named from the sniffed content type
and only local protocols are allowed, so a file that is really a playlist cannot make ffmpeg open
other files or URLs. Every decoder process has a timeout.
"""

import io
import os
import shutil
import subprocess

from django.conf import settings

SAMPLE_RATE = 16000  # what Whisper was trained on
_PCM_FORMAT = ["-ar", str(SAMPLE_RATE), "-ac", "1"]
_PCM_OUT = [*_PCM_FORMAT, "-f", "s16le"]
_DEMUXERS = {
    "audio/amr": "amr",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/ogg": "ogg",
    "audio/mp4": "mov",  # ffmpeg's mov demuxer reads MP4/M4A
}
_SILK = "audio/silk"
SUPPORTED = frozenset({*_DEMUXERS, _SILK})
# Personal WeChat's notes start with 0x02 before the standard SILK header; the decoder takes both.
_SILK_HEADERS = (b"#!SILK_V3", b"\x02#!SILK_V3")


class AudioUndecodable(Exception):
    """Not audio of the named type, damaged, or the decoder is missing or took too long."""


def _timeout() -> float:
    return float(getattr(settings, "DESK_SPEECH_FFMPEG_TIMEOUT_SECONDS", 15))


def _silk_pcm(data: bytes) -> bytes:
    """16 kHz mono s16le from SILK v3 (the SDK's decoder resamples to the rate asked for)."""
    if not data.startswith(_SILK_HEADERS):
        raise AudioUndecodable("not a SILK v3 voice note")
    try:
        import pysilk  # silk-python
    except ImportError as exc:
        raise AudioUndecodable("the SILK decoder (silk-python) is not installed") from exc
    out = io.BytesIO()
    try:
        pysilk.decode(io.BytesIO(data), out, SAMPLE_RATE)
    except Exception as exc:  # pysilk.SilkError, and whatever a damaged stream provokes
        raise AudioUndecodable(f"SILK decoding failed: {exc}") from exc
    return out.getvalue()


def _ffmpeg(data: bytes, *, input_args: list[str], output_args: list[str]) -> bytes:
    fd = os.memfd_create("voice-note")
    try:
        with open(fd, "wb", closefd=False) as memory:
            memory.write(data)
        command = [
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
            "-protocol_whitelist", "file,pipe,fd",
            *input_args, "-i", f"/dev/fd/{fd}",
            "-map_metadata", "-1", "-vn", *output_args, "pipe:1",
        ]  # fmt: skip
        return _run(command, pass_fds=(fd,))
    finally:
        os.close(fd)


def _run(command: list[str], *, stdin: bytes | None = None, pass_fds: tuple[int, ...] = ()) -> bytes:
    try:
        # S603: a fixed argument list, no shell; the customer's bytes are only ever data.
        done = subprocess.run(  # noqa: S603
            command, input=stdin, pass_fds=pass_fds, capture_output=True, timeout=_timeout(), check=False
        )
    except FileNotFoundError as exc:
        raise AudioUndecodable(f"{command[0]} is not installed (Debian package {command[0]})") from exc
    except subprocess.TimeoutExpired as exc:
        raise AudioUndecodable(f"{command[0]} took longer than {_timeout():g} s") from exc
    if done.returncode != 0 or not done.stdout:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AudioUndecodable(f"{command[0]} could not decode it: {detail[-1] if detail else done.returncode}")
    return done.stdout


def _amr_pcm(data: bytes) -> bytes:
    if not data.startswith(b"#!AMR\n"):
        raise AudioUndecodable("not an AMR-NB voice note")
    if shutil.which("sox") is None:
        return _ffmpeg(data, input_args=["-f", "amr"], output_args=_PCM_OUT)
    raw_out = ["-t", "raw", "-e", "signed", "-b", "16", "-c", "1", "-r", str(SAMPLE_RATE), "-"]
    # -D: no dither. sox adds random noise when it resamples, so the same note would decode (and
    # could read) differently on a retry.
    return _run(["sox", "-q", "-D", "-t", "amr-nb", "-", *raw_out], stdin=data)


def to_pcm16k(data: bytes, content_type: str, *, max_seconds: float | None = None) -> bytes:
    """16 kHz mono signed 16-bit little-endian PCM, cut at max_seconds. Raises AudioUndecodable."""
    if content_type == _SILK:
        pcm = _silk_pcm(data)
    elif content_type == "audio/amr":
        pcm = _amr_pcm(data)
    elif content_type in _DEMUXERS:
        pcm = _ffmpeg(data, input_args=["-f", _DEMUXERS[content_type]], output_args=_PCM_OUT)
    else:
        raise AudioUndecodable(f"{content_type or 'no content type'} is not a voice format the desk reads")
    if max_seconds:
        pcm = pcm[: int(max_seconds * SAMPLE_RATE) * 2]
    if len(pcm) < 2:
        raise AudioUndecodable("no audio in it")
    return pcm[: len(pcm) // 2 * 2]


def to_browser_audio(data: bytes, content_type: str) -> tuple[bytes, str]:
    """(MP3 bytes, "audio/mpeg"): every browser's <audio> plays MP3, none plays AMR or SILK.
    Mono at 16 kHz and 32 kbit/s: a voice note is narrow-band speech, and a minute stays ~240 KB."""
    pcm = to_pcm16k(data, content_type)
    mp3 = ["-c:a", "libmp3lame", "-b:a", "32k", "-f", "mp3"]
    return _ffmpeg(pcm, input_args=["-f", "s16le", *_PCM_FORMAT], output_args=mp3), "audio/mpeg"


def pcm_seconds(pcm: bytes) -> float:
    return len(pcm) / (2 * SAMPLE_RATE)
