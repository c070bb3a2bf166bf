"""Voice notes: WeChat's AMR and SILK decoded, read by the packaged Whisper model, and made playable.

The clips are spoken by Debian's espeak-ng and encoded as WeChat sends them (bench/speech_cer.py
makes them the same way). espeak-ng's Mandarin is robotic and the model reads it far worse than
real speech (about 8% CER on real recordings, 68% over all 18 espeak sentences as AMR), so the CER
test takes four sentences it reads steadily and a bound well above what was measured on them.
Nothing here is skipped: a missing tool or model package fails with what to install.
"""

import importlib.util
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from apps.conversations.pipeline import SpeechText, SpeechUnreadable
from apps.speech.convert import AudioUndecodable, to_browser_audio, to_pcm16k
from apps.speech.reader import NoSpeechReader, PackagedSpeechReader
from bench.speech_cer import cer, edit_distance, normalise, speak_wav, tools_missing, wav_to_amr, wav_to_silk

# Measured (int8, beam 5) as AMR: 0.40, 0.36, 0.30, 0.36, together 0.36 (15 errors in 42 characters);
# as SILK the second reads at 0.36. Text unrelated to the audio scores about 1. The clips are the
# same bytes on every run (sox without dither), and so is what the model reads from them.
READABLE = ("我的订单什么时候发货", "这个衣服有没有大一号的", "为什么还没有收到退款", "这个价格可以便宜一点吗")
MAX_CER = 0.6


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[Path, str]]]:
    missing = tools_missing()
    assert not missing, f"Debian packages missing: {', '.join(missing)} (apt-get install espeak-ng sox ffmpeg)"
    assert importlib.util.find_spec("pysilk"), "the SILK codec is not installed: silk-python (requirements.txt)"
    folder = tmp_path_factory.mktemp("speech")
    made: dict[str, list[tuple[Path, str]]] = {"amr": [], "silk": []}
    for number, sentence in enumerate(READABLE):
        wav = folder / f"{number}.wav"
        speak_wav(sentence, wav)
        wav_to_amr(wav, folder / f"{number}.amr")
        wav_to_silk(wav, folder / f"{number}.silk")
        made["amr"].append((folder / f"{number}.amr", sentence))
        made["silk"].append((folder / f"{number}.silk", sentence))
    return made


@pytest.fixture(scope="module")
def reader() -> PackagedSpeechReader:
    from apps.speech.model import ModelMissing, assemble

    try:
        assemble()
    except ModelMissing as exc:
        pytest.fail(f"speech model not installed: {exc}")
    return PackagedSpeechReader()


def silence_amr(folder: Path) -> bytes:
    wav = folder / "silence.wav"
    subprocess.run(["sox", "-D", "-n", "-r", "8000", "-c", "1", str(wav), "trim", "0", "3"], check=True)
    wav_to_amr(wav, folder / "silence.amr")
    return (folder / "silence.amr").read_bytes()


def test_wechat_amr_voice_notes_are_read_as_text(reader: PackagedSpeechReader, clips: dict) -> None:
    errors = chars = 0
    for path, sentence in clips["amr"]:
        read = reader.read(data=path.read_bytes(), content_type="audio/amr")
        assert isinstance(read, SpeechText)
        assert read.ms is not None
        assert read.ms > 0
        errors += edit_distance(normalise(sentence), normalise(read.text))
        chars += len(normalise(sentence))
    assert errors / chars < MAX_CER, f"CER {errors / chars:.2f} on espeak AMR clips"


def test_silk_voice_notes_from_personal_wechat_are_read(reader: PackagedSpeechReader, clips: dict) -> None:
    path, sentence = clips["silk"][1]
    assert path.read_bytes().startswith(b"\x02#!SILK_V3")
    read = reader.read(data=path.read_bytes(), content_type="audio/silk")
    assert cer(sentence, read.text) < MAX_CER, read.text


def test_silence_gives_no_text_rather_than_an_invented_sentence(reader: PackagedSpeechReader, tmp_path: Path) -> None:
    assert reader.read(data=silence_amr(tmp_path), content_type="audio/amr").text == ""


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"not audio at all" * 100, "audio/amr"),
        (bytes(range(256)) * 20, "audio/mpeg"),
        (b"\x02#!SILK_V3" + bytes(range(256)) * 4, "audio/silk"),
        (b"#!AMR\n", "audio/amr"),  # a header and nothing to play
        (b"#!AMR\n" + b"\x00" * 4000, "video/mp4"),  # not a voice format
    ],
)
def test_undecodable_audio_raises_speech_unreadable(data: bytes, content_type: str) -> None:
    # Decoding is checked before the model is needed: no model load for a broken file.
    with pytest.raises(SpeechUnreadable):
        PackagedSpeechReader().read(data=data, content_type=content_type)


def test_without_a_model_every_voice_note_is_unreadable() -> None:
    with pytest.raises(SpeechUnreadable, match="no speech model installed"):
        NoSpeechReader().read(data=b"#!AMR\n", content_type="audio/amr")


def _mp3_seconds(data: bytes) -> float:
    """Decoded back by ffmpeg: a pipe has no length for ffprobe to estimate a duration from."""
    assert shutil.which("ffmpeg"), "ffmpeg missing (Debian package ffmpeg)"
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "mp3", "-i", "pipe:0", "-ac", "1", "-ar", "16000", "-f", "s16le", "pipe:1"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    return len(pcm) / 32000


def _assert_mp3(data: bytes) -> None:
    # An ID3v2 tag (ffmpeg's mp3 muxer writes one), then an MPEG audio frame sync after it.
    assert data[:3] == b"ID3", data[:16]
    tag_size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    frame = data[10 + tag_size :]
    assert frame[0] == 0xFF, frame[:4]
    assert frame[1] & 0xE0 == 0xE0, frame[:4]


@pytest.mark.parametrize("kind", ["amr", "silk"])
def test_voice_notes_are_converted_to_mp3_for_the_browser(clips: dict, kind: str) -> None:
    path, _ = clips[kind][0]
    original = to_pcm16k(path.read_bytes(), f"audio/{kind}")
    data, content_type = to_browser_audio(path.read_bytes(), f"audio/{kind}")
    assert content_type == "audio/mpeg"
    _assert_mp3(data)
    assert abs(_mp3_seconds(data) - len(original) / 32000) < 0.2


def test_conversion_of_a_broken_note_raises() -> None:
    with pytest.raises(AudioUndecodable):
        to_browser_audio(b"#!AMR\n", "audio/amr")
    with pytest.raises(AudioUndecodable):
        to_browser_audio(io.BytesIO(b"junk" * 50).getvalue(), "audio/silk")


def test_a_recognition_past_the_time_limit_is_unreadable(
    reader: PackagedSpeechReader, clips: dict, settings: Any
) -> None:
    settings.DESK_SPEECH_TIMEOUT_SECONDS = 0.001
    with pytest.raises(SpeechUnreadable, match="took longer"):
        reader.read(data=clips["amr"][0][0].read_bytes(), content_type="audio/amr")
