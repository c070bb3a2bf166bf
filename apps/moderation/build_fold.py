"""Compile apps/moderation/_fold.c, the blacklist's cheap check in one pass, next to its source.

    python -m apps.moderation.build_fold            # `make install` runs this
    python -m apps.moderation.build_fold --strict   # the Docker build: fail if it cannot compile

setuptools' build_ext picks the compiler and flags this interpreter was built with (sysconfig),
and names the file for its ABI (``_fold.cpython-311-x86_64-linux-gnu.so``, git-ignored). Without a
C compiler the desk still runs, on the numpy fold (normalise.py logs a warning once), so a
failed build only warns unless ``--strict``. A build whose output is newer than the source is
skipped.
"""

import argparse
import os
import sys
import sysconfig
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "_fold.c"
ROOT = HERE.parent.parent


def target() -> Path:
    return HERE / f"_fold{sysconfig.get_config_var('EXT_SUFFIX')}"


def build() -> Path:
    from setuptools import Distribution, Extension

    extension = Extension(
        "apps.moderation._fold",
        sources=[str(SOURCE)],
        # -O2 is in the interpreter's own flags already; warnings as errors keep the file clean.
        extra_compile_args=["-O2", "-Wall", "-Werror", "-Wno-unused-parameter"],
    )
    dist = Distribution({"name": "desk-fold", "ext_modules": [extension]})
    command = dist.get_command_obj("build_ext")
    with tempfile.TemporaryDirectory() as temp:
        command.build_lib = str(Path(temp) / "lib")
        command.build_temp = str(Path(temp) / "build")
        command.ensure_finalized()
        command.run()
        # Into place by rename, not by writing over it: a running worker has the old file mapped,
        # and truncating that under it would crash the worker (SIGBUS) instead of leaving it be.
        built = Path(command.get_ext_fullpath(extension.name))
        os.replace(built, target())
    return target()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strict", action="store_true", help="exit non-zero when it cannot compile")
    parser.add_argument("--force", action="store_true", help="rebuild even when the output is up to date")
    args = parser.parse_args()
    built = target()
    if not args.force and built.exists() and built.stat().st_mtime >= SOURCE.stat().st_mtime:
        print(f"{built.name} is up to date")
        return 0
    try:
        print(f"built {build().relative_to(ROOT)}")
    except Exception as exc:  # the compiler missing or failing: setuptools raises several kinds
        print(f"could not compile {SOURCE.name} ({exc}); the numpy fold will serve instead", file=sys.stderr)
        return 1 if args.strict else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
