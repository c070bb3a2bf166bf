"""Memory of an llm worker's sentence encoder under many threads: held by malloc, or in use?

    python bench/encoder_memory.py [--threads 128] [--seconds 60]

Each variant runs in a fresh process: django.setup(), the desk's Embedder (int8 per message, fp32
reference, as an llm worker has them), then --threads threads, as Celery's threads pool runs, each
encoding the demo shop's questions and replies (random pairs, so the encoder's cache misses and the
lengths vary) for --seconds. Printed per variant: RSS, glibc's bytes in use and held free
(apps/core/memory.py), CPU seconds per 1,000 texts, texts encoded.

The variants differ only in how glibc's malloc may keep memory (apps/core/memory.py): its defaults (up
to 8 arenas per core, each keeping the high-water mark of the tensors whichever thread led a batch
allocated there), DESK_MALLOC_ARENAS=2 alone (fewer arenas, but each still keeps the pages of every
batch size it has seen), and with DESK_MALLOC_TRIM (the batch's freed pages given back after it).
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

VARIANTS = {  # name -> environment of the child
    "glibc's defaults (8 arenas per core, no trim)": {"DESK_MALLOC_ARENAS": "0", "DESK_MALLOC_TRIM": "false"},
    "2 arenas, no trim": {"DESK_MALLOC_ARENAS": "2", "DESK_MALLOC_TRIM": "false"},
    "2 arenas, trimmed after a batch at most once a second (the desk's default)": {
        "DESK_MALLOC_ARENAS": "2",
        "DESK_MALLOC_TRIM": "true",
    },
}


def child(threads: int, seconds: float) -> dict[str, float]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
    os.environ.setdefault("DESK_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from apps.core import memory
    from apps.moderation.semantic import Embedder
    from peers.moderation_dataset import shop_questions, shop_replies

    texts = shop_questions() + shop_replies()
    embedder = Embedder()
    embedder.encode(texts[:8])
    embedder.encode_reference(texts[:8])
    done = threading.Event()
    counted = [0]
    lock = threading.Lock()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        while not done.is_set():
            batch = [f"{rng.choice(texts)}{rng.choice(texts)}"[: rng.randint(8, 400)] for _ in range(rng.randint(1, 3))]
            embedder.encode(batch)
            if rng.random() < 0.1:  # a score near a threshold: the fp32 recheck
                embedder.encode_reference(batch[:1])
            with lock:
                counted[0] += len(batch)
            time.sleep(rng.uniform(0.0, 0.05))  # between messages: the threads come and go in bursts

    cpu = time.process_time()
    pool = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    time.sleep(seconds)
    done.set()
    for thread in pool:
        thread.join()
    cpu = time.process_time() - cpu
    stats = memory.malloc_stats()
    return {
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # peak: what the box must hold
        "rss_now_mb": memory.rss_bytes() / 1e6,
        "in_use_mb": stats.in_use / 1e6 if stats else float("nan"),
        "free_mb": stats.free / 1e6 if stats else float("nan"),
        "cpu_ms_per_1000": cpu * 1e6 / max(counted[0], 1),
        "texts": counted[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=128, help="threads encoding at once (an llm worker's pool)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.threads, args.seconds)))
        return
    rows = {}
    for index, (name, env) in enumerate(VARIANTS.items(), 1):
        print(f"[{index}/{len(VARIANTS)}] {name}: {args.threads} threads for {args.seconds:g} s …", flush=True)
        argv = [sys.executable, __file__, "--child", "--threads", str(args.threads), "--seconds", str(args.seconds)]
        out = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, check=False)
        if out.returncode:
            sys.exit(f"{name} failed:\n{out.stderr[-3000:]}")
        rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
    base = next(iter(rows.values()))
    print("\n| malloc | peak RSS | RSS at the end | malloc in use | malloc held free | CPU per 1,000 texts | texts |")
    print("|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['rss_mb']:,.0f} MB | {row['rss_now_mb']:,.0f} MB | {row['in_use_mb']:,.0f} MB "
            f"| {row['free_mb']:,.0f} MB | {row['cpu_ms_per_1000']:,.0f} ms "
            f"({row['cpu_ms_per_1000'] / base['cpu_ms_per_1000']:.2f}x) | {row['texts']:,} |"
        )


if __name__ == "__main__":
    main()
