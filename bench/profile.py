"""py-spy on the desk's processes during a bench's measured phase: top-N tables per process.

    python bench/load.py --rate 30 --seconds 40 --profile /tmp/prof    # writes /tmp/prof/<process>.txt + top.md

Each process is sampled with ``py-spy record --gil --nonblocking``: no pause of the process (the
figures are what the run costs, within py-spy's ~1 % of a core), and only the thread that holds
the GIL, so a sample is Python doing work; threads waiting on the LLM, a lock, a socket or a pool
connection are not counted (``--all-threads`` counts every non-idle thread instead). Native code
that releases the GIL (torch's matrix products, Postgres's side of a query) is under-counted: the
process's CPU per message from /proc is the total. The raw stacks are kept (``<process>.txt``: collapsed stacks, for
flamegraph.pl or speedscope) and summed into three tables per process: time inclusive per
function (a frame anywhere on the stack), time by area (the package of the innermost frame that
is not the standard library), and self time per function.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# "func (path/to/file.py:123)" as py-spy writes a frame
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
_AREAS = (
    ("apps/", None),  # apps/<app>/...: the app's own name
    ("django/db/", "django ORM"),
    ("django/", "django (other)"),
    ("psycopg", "psycopg"),
    ("kombu/", "celery+kombu"),
    ("celery/", "celery+kombu"),
    ("billiard/", "celery+kombu"),
    ("redis/", "redis-py"),
    ("channels_redis/", "channels_redis"),
    ("torch/", "torch"),
    ("transformers/", "transformers"),
    ("sentence_transformers/", "transformers"),
    ("onnxruntime", "onnxruntime"),
    ("httpx/", "httpx+httpcore"),
    ("httpcore/", "httpx+httpcore"),
    ("h11/", "httpx+httpcore"),
    ("openai/", "openai client"),
    ("cryptography/", "cryptography"),
    ("uvicorn/", "uvicorn"),
    ("starlette/", "asgi"),
    ("asgiref/", "asgiref"),
    ("pydantic", "pydantic"),
)


@dataclass
class Profile:
    name: str
    samples: int = 0
    inclusive: Counter[str] = field(default_factory=Counter)
    self_: Counter[str] = field(default_factory=Counter)
    areas: Counter[str] = field(default_factory=Counter)


def _frame(text: str) -> tuple[str, str]:
    found = _FRAME.match(text.strip())
    if not found:
        return text.strip(), ""
    return found["func"], found["file"]


def _short(file: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3."):
        if marker in file:
            file = file.split(marker, 1)[1]
    return file


def _area(file: str) -> str | None:
    short = _short(file)
    if short.startswith("apps/"):
        return "apps." + short.split("/")[1]
    if short.startswith(("project/", "bench/", "peers/")):
        return short.split("/")[0]
    for prefix, area in _AREAS:
        if short.startswith(prefix):
            return area
    return None  # the standard library (or a frame py-spy could not name): charged to its caller


def parse(name: str, raw: str) -> Profile:
    profile = Profile(name)
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(part) for part in stack.split(";")]
        profile.samples += count
        seen = set()
        for func, file in frames:
            label = f"{func} ({_short(file)})"
            if label not in seen:
                seen.add(label)
                profile.inclusive[label] += count
        func, file = frames[-1]
        profile.self_[f"{func} ({_short(file)})"] += count
        area = next((a for a in (_area(f) for _, f in reversed(frames)) if a is not None), "stdlib / native")
        profile.areas[area] += count
    return profile


def table(profile: Profile, top: int = 25) -> str:
    total = max(profile.samples, 1)
    lines = [f"### {profile.name} ({profile.samples} samples)", ""]
    lines += ["By area (innermost non-stdlib frame):", "", "| area | % |", "|---|---|"]
    lines += [f"| {area} | {n * 100 / total:.1f} |" for area, n in profile.areas.most_common(15)]
    lines += ["", f"Top {top} functions, inclusive:", "", "| function | % |", "|---|---|"]
    # The outermost frames (thread bootstrap, the worker loop) are ~100 % everywhere: skipped.
    inclusive = [(f, n) for f, n in profile.inclusive.most_common() if n < 0.97 * total][:top]
    lines += [f"| `{f}` | {n * 100 / total:.1f} |" for f, n in inclusive]
    lines += ["", f"Top {top} functions, self:", "", "| function | % |", "|---|---|"]
    lines += [f"| `{f}` | {n * 100 / total:.1f} |" for f, n in profile.self_.most_common(top)]
    return "\n".join(lines) + "\n"


class Recorder:
    """One ``py-spy record`` per process, started together, waited for together."""

    def __init__(self, out: Path, pids: dict[str, int], seconds: float, rate: int = 50, gil: bool = True) -> None:
        self.out, self.pids, self.seconds, self.rate, self.gil = out, pids, seconds, rate, gil
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
        if py_spy is None:
            raise SystemExit("--profile needs py-spy (pip install py-spy)")
        self.out.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            argv = [py_spy, "record", "--nonblocking", "-r", str(self.rate), "-d", str(int(self.seconds)),
                    "-f", "raw", "-o", str(self.out / f"{name}.txt"), "--pid", str(pid),
                    *(["--gil"] if self.gil else [])]  # fmt: skip
            self.procs[name] = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self, top: int = 25) -> Path:
        parts = []
        for name, proc in self.procs.items():
            _, err = proc.communicate(timeout=self.seconds + 60)
            path = self.out / f"{name}.txt"
            if not path.exists():
                parts.append(f"### {name}\n\npy-spy failed: {err.decode(errors='replace')[-400:]}\n")
                continue
            found = parse(name, path.read_text(errors="replace"))
            busy = found.samples / (self.seconds * self.rate)
            what = "the GIL held in" if self.gil else "threads busy per"
            parts.append(f"{name}: {what} {busy:.0%} of the sampling rounds\n\n" + table(found, top))
        report = self.out / "top.md"
        report.write_text("\n".join(parts))
        return report


def main() -> None:
    """Summarise raw files already recorded: python bench/profile.py FILE.txt [...]"""
    for arg in sys.argv[1:]:
        path = Path(arg)
        print(table(parse(path.stem, path.read_text(errors="replace"))))


if __name__ == "__main__":
    main()
