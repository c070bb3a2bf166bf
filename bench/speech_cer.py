"""Speech benchmark: character error rate and time per voice note of the packaged speech reader.

    .venv/bin/python bench/speech_cer.py [--real DIR] [--keep DIR] [--beam N] [--no-silk]

1. Eighteen customer-service sentences are spoken by Debian's espeak-ng (Mandarin) into a temporary
   folder and encoded as WeChat sends them: AMR-NB at 8 kHz, 12.2 kbit/s (sox, through Debian's
   libopencore-amrnb; Debian's ffmpeg has no AMR encoder), and SILK v3 with Tencent's header
   (silk-python), as personal WeChat sends them.
2. Each is read by apps.speech.reader.PackagedSpeechReader, exactly as the spine reads a note.
3. --real DIR adds recordings of real speech: every audio file there (wav, mp3, amr, silk, ogg,
   m4a) with a same-named .txt holding its transcript. No real recordings ship with the project.

CER is the Levenshtein distance over characters, punctuation and spaces removed, divided by the
reference's length (so it can pass 1 when the model invents text). Time is per note, decoding
included, after the model is loaded (its load is printed apart).

Why pinyin goes to espeak-ng: Debian 12's espeak-ng (1.51) reads Chinese characters through an
incomplete cmn dictionary that speaks each tone digit as an English number ("de five"); fed
pinyin with tone numbers (pypinyin) through its cmn-latn-pinyin voice, it says the syllables.
The voice is still robotic: a model trained on real speech reads it far worse than real speech.
"""

import argparse
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apps.conversations.pipeline import SpeechReader

ROOT = Path(__file__).resolve().parent.parent

SENTENCES = (
    "我的订单什么时候发货",
    "我要退货，商品坏了",
    "请问快递到哪里了",
    "这个衣服有没有大一号的",
    "我想修改收货地址",
    "为什么还没有收到退款",
    "能不能开发票",
    "优惠券怎么用不了",
    "客服你好，我想咨询一下",
    "商品和图片不一样",
    "我付款了但是订单显示未支付",
    "请帮我取消这个订单",
    "这个价格可以便宜一点吗",
    "物流三天没有更新了",
    "我要投诉这个快递员",
    "手机充不进电怎么办",
    "会员积分怎么兑换",
    "谢谢，问题已经解决了",
)
CONTENT_TYPES = {
    ".amr": "audio/amr",
    ".silk": "audio/silk",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".m4a": "audio/mp4",
}
TOOLS = {"espeak-ng": "espeak-ng", "sox": "sox (with libsox-fmt-base for AMR)", "ffmpeg": "ffmpeg"}


def tools_missing() -> list[str]:
    """The Debian packages the clips need that are not on PATH (apt-get install espeak-ng sox ffmpeg)."""
    return [package for tool, package in TOOLS.items() if shutil.which(tool) is None]


def speak_wav(sentence: str, wav: Path, *, speed: int = 150) -> None:
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(sentence, style=Style.TONE3, neutral_tone_with_five=True)
    pinyin = " ".join(s for s in syllables if re.fullmatch(r"[a-z]+[1-5]", s))
    subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", str(speed), "-w", str(wav), pinyin], check=True)


def wav_to_amr(wav: Path, amr: Path) -> None:
    # -C 7: mode MR122 (12.2 kbit/s), what phones record voice notes at. -D: no dither, which is
    # random: the same sentence would make a different clip, and read differently, on every run.
    subprocess.run(
        ["sox", "-D", str(wav), "-r", "8000", "-c", "1", "-t", "amr-nb", "-C", "7", str(amr)],
        check=True,
        stderr=subprocess.DEVNULL,  # "rate clipped N samples" warnings
    )


def wav_to_silk(wav: Path, silk: Path) -> None:
    import pysilk

    pcm = subprocess.run(
        ["sox", "-D", str(wav), "-r", "24000", "-c", "1", "-b", "16", "-e", "signed", "-t", "raw", "-"],
        check=True,
        capture_output=True,
    ).stdout
    out = io.BytesIO()
    pysilk.encode(io.BytesIO(pcm), out, 24000, 24000, tencent=True)  # 24 kHz, as WeChat records
    silk.write_bytes(out.getvalue())


def make_clips(folder: Path, *, silk: bool = True) -> list[tuple[Path, str]]:
    """(clip, reference) for every sentence: AMR, and SILK when asked."""
    clips = []
    for number, sentence in enumerate(SENTENCES, 1):
        wav = folder / f"{number:02d}.wav"
        speak_wav(sentence, wav)
        wav_to_amr(wav, folder / f"{number:02d}.amr")
        clips.append((folder / f"{number:02d}.amr", sentence))
        if silk:
            wav_to_silk(wav, folder / f"{number:02d}.silk")
            clips.append((folder / f"{number:02d}.silk", sentence))
    return clips


def real_clips(folder: Path) -> list[tuple[Path, str]]:
    return [
        (path, path.with_suffix(".txt").read_text(encoding="utf-8").strip())
        for path in sorted(folder.iterdir())
        if path.suffix in CONTENT_TYPES and path.with_suffix(".txt").is_file()
    ]


def normalise(text: str) -> str:
    import opencc

    return opencc.OpenCC("t2s").convert(re.sub(r"[\W_]+", "", text))


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ca != cb))
    return row[-1]


def cer(reference: str, hypothesis: str) -> float:
    ref = normalise(reference)
    return edit_distance(ref, normalise(hypothesis)) / max(1, len(ref))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(reader: "SpeechReader", clips: list[tuple[Path, str]], label: str) -> None:
    from apps.conversations.pipeline import SpeechUnreadable

    errors = chars = 0
    times: list[float] = []
    for path, reference in clips:
        started = time.monotonic()
        try:
            text = reader.read(data=path.read_bytes(), content_type=CONTENT_TYPES[path.suffix]).text
        except SpeechUnreadable as exc:
            text = ""
            print(f"  {path.name}: unreadable: {exc}")
        seconds = time.monotonic() - started
        times.append(seconds)
        ref = normalise(reference)
        distance = edit_distance(ref, normalise(text))
        errors, chars = errors + distance, chars + len(ref)
        print(f"  {path.name:>12} {seconds:5.2f} s  CER {distance / max(1, len(ref)):5.2f}  {reference} -> {text}")
    print(
        f"{label}: {len(clips)} clips, CER {errors / max(1, chars):.3f} "
        f"(characters {errors}/{chars}), time per clip P50 {statistics.median(times):.2f} s, "
        f"P95 {pct(times, 0.95):.2f} s, max {max(times):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, help="a folder of real recordings, each with a same-named .txt")
    parser.add_argument("--keep", type=Path, help="write the espeak clips here instead of a temporary folder")
    parser.add_argument("--beam", type=int, help="beam size (DESK_SPEECH_BEAM_SIZE)")
    parser.add_argument("--no-silk", action="store_true", help="AMR clips only")
    args = parser.parse_args()

    missing = tools_missing()
    if missing:
        sys.exit(f"missing Debian packages: {', '.join(missing)} (apt-get install espeak-ng sox ffmpeg)")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
    os.environ.setdefault("DESK_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings

    from apps.speech.reader import PackagedSpeechReader, warm_up

    if args.beam:
        settings.DESK_SPEECH_BEAM_SIZE = args.beam
    started = time.monotonic()
    warm_up()
    print(f"model loaded in {time.monotonic() - started:.2f} s (beam {getattr(settings, 'DESK_SPEECH_BEAM_SIZE', 5)})")
    reader = PackagedSpeechReader()
    with tempfile.TemporaryDirectory(prefix="speech-cer-") as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        clips = make_clips(folder, silk=not args.no_silk)
        measure(reader, [c for c in clips if c[0].suffix == ".amr"], "espeak-ng, AMR-NB 8 kHz")
        if not args.no_silk:
            measure(reader, [c for c in clips if c[0].suffix == ".silk"], "espeak-ng, SILK v3 24 kHz")
    if args.real:
        measure(reader, real_clips(args.real), f"real recordings in {args.real}")


if __name__ == "__main__":
    main()
