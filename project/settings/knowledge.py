"""Knowledge base, answer cache, customer images and their OCR."""

from pathlib import Path

from project.settings.env import env_bool, env_float, env_int, env_str
from project.settings.llm import CELERY_TASK_ROUTES, LLM_QUEUE
from project.settings.moderation import DESK_MODERATION_MODEL

# The same packaged sentence model as the semantic moderation rules: one copy in memory per worker.
KNOWLEDGE_MODEL = env_str("KNOWLEDGE_MODEL", DESK_MODERATION_MODEL)
# A direct answer (no LLM) needs the best entry at or above the threshold AND ahead of the next entry
# by the margin. Measured on bench/knowledge.py's labelled set: 0.94 / 0.02 gave no wrong hit in 150
# questions at 41% recall; 0.92 gave 57% recall with one near-miss answered wrongly. Strict by default.
KNOWLEDGE_DIRECT_THRESHOLD = env_float("KNOWLEDGE_DIRECT_THRESHOLD", 0.94)
KNOWLEDGE_DIRECT_MARGIN = env_float("KNOWLEDGE_DIRECT_MARGIN", 0.02)
# Entries handed to the LLM as reference snippets when there is no direct answer.
KNOWLEDGE_TOP_K = env_int("KNOWLEDGE_TOP_K", 3)
KNOWLEDGE_SNIPPET_MIN_SCORE = env_float("KNOWLEDGE_SNIPPET_MIN_SCORE", 0.75)
# How often a worker compares its index (and the answer cache's key) with the version in Redis.
KNOWLEDGE_RELOAD_SECONDS = env_float("KNOWLEDGE_RELOAD_SECONDS", 2.0)

# Answer cache: in-process LRU in front of Redis, for context-free first turns only.
ANSWER_CACHE_ENABLED = env_bool("ANSWER_CACHE_ENABLED", True)
ANSWER_CACHE_LRU_SIZE = env_int("ANSWER_CACHE_LRU_SIZE", 4096)
ANSWER_CACHE_TTL_S = env_int("ANSWER_CACHE_TTL_S", 24 * 3600)

# Customer images: refused above this size (413), stored under MEDIA_ROOT (never served publicly).
MEDIA_ROOT = Path(env_str("DESK_MEDIA_ROOT", str(Path(__file__).resolve().parent.parent.parent / "media")))
DESK_IMAGE_MAX_BYTES = env_int("DESK_IMAGE_MAX_BYTES", 10 * 1024 * 1024)
# Decoded size bound: a small file can still unpack into a huge bitmap (decompression bomb).
DESK_IMAGE_MAX_PIXELS = env_int("DESK_IMAGE_MAX_PIXELS", 40_000_000)
# OCR (rapidocr-onnxruntime, Chinese PP-OCRv4 shipped in its wheel). Lines below the confidence are dropped;
# the llm worker runs many threads, so OCR runs at most this many at a time per process.
DESK_OCR_MIN_CONFIDENCE = env_float("DESK_OCR_MIN_CONFIDENCE", 0.6)
DESK_OCR_CONCURRENCY = env_int("DESK_OCR_CONCURRENCY", 1)
DESK_OCR_MAX_SIDE = env_int("DESK_OCR_MAX_SIDE", 1600)
DESK_IMAGE_UNREADABLE_REPLY = env_str(
    "DESK_IMAGE_UNREADABLE_REPLY", "抱歉，这张图片我没能看清。方便的话，请用文字描述一下您的问题，谢谢！"
)

# Embedding runs where the sentence model is already loaded: the llm worker (moderation uses it there).
CELERY_TASK_ROUTES["apps.knowledge.tasks.*"] = {"queue": LLM_QUEUE}
