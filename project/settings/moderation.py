"""Content safety: blacklist reload, regex bounds and the semantic model."""

from django.core.exceptions import ImproperlyConfigured

from project.settings.env import env_bool, env_float, env_int, env_str

# How often a worker compares its rules with the version key in Redis (seconds an admin
# edit may take to reach every worker).
DESK_MODERATION_RELOAD_SECONDS = env_float("DESK_MODERATION_RELOAD_SECONDS", 2.0)
# Wall-clock bound for one regex term on one message; patterns are also vetted at save.
DESK_MODERATION_REGEX_TIMEOUT_MS = env_int("DESK_MODERATION_REGEX_TIMEOUT_MS", 20)

# Sentence model: "package:subdir" of a model shipped in a PyPI package, or a directory.
DESK_MODERATION_SEMANTIC_ENABLED = env_bool("DESK_MODERATION_SEMANTIC_ENABLED", True)
DESK_MODERATION_MODEL = env_str("DESK_MODERATION_MODEL", "embedding:m3e-small")
DESK_MODERATION_BATCH_SIZE = env_int("DESK_MODERATION_BATCH_SIZE", 32)
# torch intra-op threads of a process that encodes. One: its callers are already parallel (a worker's
# threads; encoder.py batches them), and 2 OpenMP threads per call on 2 busy cores spin against each
# other: 73 ms of CPU per single text instead of 13 ms (docs/benchmarks.md, "Load").
DESK_MODERATION_TORCH_THREADS = env_int("DESK_MODERATION_TORCH_THREADS", 1)
# What runs the sentence model: "onnx", its int8 export on onnxruntime (made by `make install`,
# apps/moderation/onnx_model.py; ~1/3 of torch's CPU per text, see docs/benchmarks.md), or "torch",
# sentence-transformers on the packaged weights: the reference the export is tested against.
DESK_ENCODER_BACKEND = env_str("DESK_ENCODER_BACKEND", "onnx")
if DESK_ENCODER_BACKEND not in ("onnx", "torch"):
    raise ImproperlyConfigured(f"DESK_ENCODER_BACKEND must be onnx or torch, not {DESK_ENCODER_BACKEND!r}.")
# onnxruntime intra-op threads; one for the same reason as torch's above.
DESK_ENCODER_THREADS = env_int("DESK_ENCODER_THREADS", DESK_MODERATION_TORCH_THREADS)
# onnx: how close to a threshold a message's int8 score must be for the message to be encoded again
# in fp32 and decided on that (rule examples and knowledge phrasings are always fp32). Twice the
# largest |int8-query score - fp32 score| measured over the 1,015 agreement texts (0.0277, in batches of
# mixed lengths; 0.0215 sorted, 0.0174 one text per call), so every decision is torch's
# (tests/moderation/test_onnx_agreement.py). It costs fp32 on ~58% of the demo shop's questions (most
# sit between the 0.90 and 0.94 knowledge thresholds): docs/benchmarks.md. 0 turns the recheck off.
DESK_ENCODER_RECHECK_MARGIN = env_float("DESK_ENCODER_RECHECK_MARGIN", 0.056)
# Where `make install` writes the export (the image: /opt/models); empty: .models/ in the repository.
DESK_ENCODER_MODEL_DIR = env_str("DESK_ENCODER_MODEL_DIR", "")

# What a customer whose message was blocked is told.
DESK_MODERATION_BLOCKED_REPLY = env_str(
    "DESK_MODERATION_BLOCKED_REPLY", "您好，您的消息包含不适合处理的内容。请换一种说法，我们很乐意为您服务。"
)
