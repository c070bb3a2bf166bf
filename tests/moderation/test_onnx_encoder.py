"""The ONNX encoder's contract: no torch in the process, a verified export or a clear refusal, and the
sentence-transformers configuration read as sentence-transformers reads it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.moderation import onnx_model, semantic
from apps.moderation.onnx_encoder import OnnxEncoder, load_tokenizer, max_length, pooling_mode

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = semantic.model_path(settings.DESK_MODERATION_MODEL)
EXPORT = onnx_model.onnx_path(MODEL_DIR)
EXPORTS = {variant: onnx_model.onnx_path(MODEL_DIR, variant) for variant in onnx_model.VARIANTS}

NO_TORCH = """
import sys
import django
django.setup()
from apps.moderation.semantic import Embedder
embedder = Embedder(backend="onnx")
vectors = embedder.encode(["退款多久到账？", "我要投诉你们"])  # int8: every message
assert vectors.shape == (2, 512), vectors.shape
reference = embedder.encode_reference(["退款多久到账？"])  # fp32: the stored side and the recheck
assert float(reference[0] @ vectors[0]) > 0.99, float(reference[0] @ vectors[0])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "sentence_transformers", "transformers"))
assert not heavy, heavy
print("ok")
"""


def test_the_onnx_backend_encodes_without_importing_torch() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings.test", "DESK_ENCODER_BACKEND": "onnx"}
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")


def test_a_missing_export_is_refused_with_the_command_that_makes_it(settings: Any, tmp_path: Path) -> None:
    settings.DESK_ENCODER_MODEL_DIR = str(tmp_path)

    with pytest.raises(ImproperlyConfigured, match="make install"):
        semantic._onnx_encoder(settings.DESK_MODERATION_MODEL, 7)  # a batch size no other test caches


@pytest.mark.parametrize("variant", onnx_model.VARIANTS)
def test_an_export_changed_after_it_was_recorded_is_refused(tmp_path: Path, variant: str) -> None:
    export = EXPORTS[variant]
    copy = tmp_path / export.name
    shutil.copyfile(export, copy)
    shutil.copyfile(onnx_model.record_path(export), onnx_model.record_path(copy))
    with copy.open("r+b") as handle:
        handle.seek(-100, os.SEEK_END)
        byte = handle.read(1)
        handle.seek(-100, os.SEEK_END)
        handle.write(bytes([byte[0] ^ 0xFF]))

    with pytest.raises(onnx_model.ExportMissing, match="changed since"):
        OnnxEncoder(MODEL_DIR, copy)


def test_a_second_export_is_a_no_op_that_keeps_both_files() -> None:
    before = {variant: path.stat().st_mtime_ns for variant, path in EXPORTS.items()}

    assert onnx_model.export(settings.DESK_MODERATION_MODEL, EXPORT.parent) == EXPORTS

    assert {variant: path.stat().st_mtime_ns for variant, path in EXPORTS.items()} == before
    for variant, path in EXPORTS.items():
        record = json.loads(onnx_model.record_path(path).read_text(encoding="utf-8"))
        assert (record["variant"], record["sha256"]) == (variant, onnx_model.sha256_file(path))


def test_a_bare_model_directory_pools_like_sentence_transformers() -> None:
    # m3e-small ships no modules.json: sentence-transformers then builds Transformer + mean pooling, 512 tokens.
    assert pooling_mode(MODEL_DIR) == "mean"
    assert max_length(MODEL_DIR) == 512


def _pooled_model(tmp_path: Path, pooling: dict[str, Any], *extra: dict[str, str]) -> Path:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        *extra,
    ]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return tmp_path


@pytest.mark.parametrize(
    ("pooling", "mode"),
    [
        ({"word_embedding_dimension": 512, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, "cls"),
        ({"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False}, "mean"),
        ({"pooling_mode": "max"}, "max"),
    ],
)
def test_the_pooling_config_names_the_mode(tmp_path: Path, pooling: dict[str, Any], mode: str) -> None:
    assert pooling_mode(_pooled_model(tmp_path, pooling)) == mode


@pytest.mark.parametrize(
    ("pooling", "extra"),
    [
        ({"pooling_mode_weightedmean_tokens": True}, ()),
        ({"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True}, ()),
        ({"pooling_mode_mean_tokens": True}, ({"path": "2_Dense", "type": "sentence_transformers.models.Dense"},)),
    ],
)
def test_a_pipeline_this_cannot_mirror_is_refused(tmp_path: Path, pooling: dict[str, Any], extra: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="DESK_ENCODER_BACKEND=torch"):
        pooling_mode(_pooled_model(tmp_path, pooling, *extra))


def test_a_directory_with_only_vocab_txt_tokenises_alike(tmp_path: Path) -> None:
    vocab = json.loads((MODEL_DIR / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    (tmp_path / "vocab.txt").write_text("\n".join(sorted(vocab, key=vocab.get)) + "\n", encoding="utf-8")
    shutil.copyfile(MODEL_DIR / "tokenizer_config.json", tmp_path / "tokenizer_config.json")
    shutil.copyfile(MODEL_DIR / "config.json", tmp_path / "config.json")
    texts = ["退款多久到账？", "iPhone 15 Pro 的保修", "Ｈｅｌｌｏ，在吗？？" * 3, "字" * 600]

    built, shipped = load_tokenizer(tmp_path), load_tokenizer(MODEL_DIR)

    assert [e.ids for e in built.encode_batch(texts)] == [e.ids for e in shipped.encode_batch(texts)]
    assert len(shipped.encode_batch(texts)[-1].ids) == 512  # truncated at the model's length


def test_a_batch_gives_nearly_the_vectors_of_single_calls() -> None:
    # Not exactly: dynamic int8 quantises each activation tensor with one scale for the whole batch, so
    # a text's vector depends a little on its batch-mates (min cosine 0.994 over the agreement texts).
    encoder = OnnxEncoder(MODEL_DIR, EXPORT, batch_size=2)
    texts = ["短", "这是一句比较长的话，用来检查补齐不影响结果", "中等长度的一句话"]

    batched = encoder.encode(texts)
    single = np.concatenate([encoder.encode([t]) for t in texts])

    assert (batched * single).sum(axis=1).min() >= 0.99
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
