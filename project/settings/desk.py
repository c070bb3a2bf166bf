"""Product settings: the message spine's pluggable steps, limits and thresholds."""

from django.core.exceptions import ImproperlyConfigured

from project.settings.env import env_bool, env_float, env_int, env_str

# Pipeline steps, as dotted paths so the LLM and moderation issues can swap them in.
DESK_ANSWERER = env_str("DESK_ANSWERER", "apps.llm.answerer.LLMAnswerer")
DESK_MODERATOR = env_str("DESK_MODERATOR", "apps.moderation.moderator.ContentModerator")
# Reads the text in customer images (apps.conversations.pipeline.ImageReader): RapidOCR by default.
DESK_IMAGE_READER = env_str("DESK_IMAGE_READER", "apps.knowledge.ocr.RapidOcrReader")
# Voice notes the channel did not transcribe itself (apps.conversations.pipeline.SpeechReader): Whisper base
# shipped in two PyPI wheels (requirements-models.txt), 8.3 % CER on real Mandarin recordings after AMR-NB
# 8 kHz, 1.2-2.2 s a clip on 2 cores (docs/benchmarks.md). apps.speech.reader.NoSpeechReader sends every
# such note to a person instead.
DESK_SPEECH_READER = env_str("DESK_SPEECH_READER", "apps.speech.reader.PackagedSpeechReader")
# Where `python -m apps.speech.model` joins the model ("" = inside the virtualenv, share/desk-speech/).
DESK_SPEECH_MODEL_DIR = env_str("DESK_SPEECH_MODEL_DIR", "")
DESK_SPEECH_THREADS = env_int("DESK_SPEECH_THREADS", 2)
DESK_SPEECH_BEAM_SIZE = env_int("DESK_SPEECH_BEAM_SIZE", 5)  # beam 1: 14.1 % CER instead of 8.3 %
DESK_SPEECH_TIMEOUT_SECONDS = env_float("DESK_SPEECH_TIMEOUT_SECONDS", 30.0)
DESK_SPEECH_MAX_SECONDS = env_float("DESK_SPEECH_MAX_SECONDS", 60.0)  # WeChat's own cap on a voice note
DESK_SPEECH_FFMPEG_TIMEOUT_SECONDS = env_float("DESK_SPEECH_FFMPEG_TIMEOUT_SECONDS", 15.0)
# The answerer's knowledge base (apps.conversations.pipeline.Knowledge).
DESK_KNOWLEDGE = env_str("DESK_KNOWLEDGE", "apps.knowledge.selectors.KnowledgeStep")
# Does a customer message ask for a person (apps.conversations.pipeline.HumanRequestDetector)? By default the
# phrase list for the short forms, then a small classifier over admin-editable examples on the sentence model
# (apps/knowledge/human_request.py; bench/human_request.py). apps.conversations.pipeline.PhraseDetector is the
# phrase list alone (substring), for a setup without the sentence model.
DESK_HUMAN_REQUEST_DETECTOR = env_str("DESK_HUMAN_REQUEST_DETECTOR", "apps.knowledge.human_request.ExampleDetector")

# Inbound limits: characters of text a customer message may carry.
DESK_INBOUND_MAX_CHARS = env_int("DESK_INBOUND_MAX_CHARS", 8000)
DESK_INBOUND_API_TOKEN = env_str("DESK_INBOUND_API_TOKEN", "")

# Sliding context window handed to the answerer.
DESK_CONTEXT_TURNS = env_int("DESK_CONTEXT_TURNS", 5)

# Sweeper: a message whose lease was last renewed longer ago than this is presumed orphaned by a
# dead worker. A live worker renews its claims every DESK_PROCESSING_LEASE_RENEW_SECONDS
# (apps/conversations/services/lease.py), so the lease only has to outlast a few missed renewals,
# not the slowest LLM call: a crash is retried about a minute later.
DESK_PROCESSING_LEASE_SECONDS = env_int("DESK_PROCESSING_LEASE_SECONDS", 60)
DESK_PROCESSING_LEASE_RENEW_SECONDS = env_float(
    "DESK_PROCESSING_LEASE_RENEW_SECONDS", DESK_PROCESSING_LEASE_SECONDS / 3
)
if not 0 < DESK_PROCESSING_LEASE_RENEW_SECONDS < DESK_PROCESSING_LEASE_SECONDS:
    # Renewing no faster than the lease lapses would let the sweeper take live messages.
    raise ImproperlyConfigured("DESK_PROCESSING_LEASE_RENEW_SECONDS must be above 0 and below the lease.")
DESK_RECEIVED_GRACE_SECONDS = env_int("DESK_RECEIVED_GRACE_SECONDS", 30)
DESK_MAX_ATTEMPTS = env_int("DESK_MAX_ATTEMPTS", 4)
DESK_SWEEP_BATCH = env_int("DESK_SWEEP_BATCH", 500)

# Per-customer token bucket on inbound messages: a burst, then a steady rate. 0 turns it off.
DESK_INBOUND_RATE_BURST = env_int("DESK_INBOUND_RATE_BURST", 10)
DESK_INBOUND_RATE_PER_MINUTE = env_int("DESK_INBOUND_RATE_PER_MINUTE", 20)
DESK_RATE_LIMITED_REPLY = env_str("DESK_RATE_LIMITED_REPLY", "您发送消息太频繁了，请稍后再试，我们会尽快回复。")

DESK_FALLBACK_REPLY = env_str("DESK_FALLBACK_REPLY", "您好，人工客服稍后回复您，请稍候。")

# Answer patience: while the LLM is briefly unavailable (every endpoint failing or cooling down),
# a message younger than this is retried (2, 4, 8… s) instead of getting DESK_FALLBACK_REPLY.
# 45 s covers one or two breaker cooldown + half-open probe cycles (LLM_COOLDOWN_MIN_S 5 s,
# doubling): the customer waits a little longer rather than joining a human queue, which also
# takes every later message of the conversation. 0 gives the fallback at the first failure.
DESK_ANSWER_PATIENCE_SECONDS = env_int("DESK_ANSWER_PATIENCE_SECONDS", 45)
if DESK_ANSWER_PATIENCE_SECONDS < 0:
    raise ImproperlyConfigured("DESK_ANSWER_PATIENCE_SECONDS must be 0 or more.")

# A customer who writes within this long of the desk closing their conversation (idle, an agent)
# gets it back, with the bot, instead of a new one; 0: always a new one.
DESK_REOPEN_GRACE_S = env_float("DESK_REOPEN_GRACE_S", 600.0)

# Satisfaction (CSAT, apps/conversations/services/satisfaction.py): after a close an agent resolved
# ("human") or the bot too ("all"), the customer is asked for 1-5; their next message within the
# window, if it reads as a score, is the answer (not a question for the bot, not a reopen).
DESK_CSAT_ENABLED = env_bool("DESK_CSAT_ENABLED", True)
DESK_CSAT_AFTER = env_str("DESK_CSAT_AFTER", "human")
if DESK_CSAT_AFTER not in ("human", "all"):
    raise ImproperlyConfigured("DESK_CSAT_AFTER must be human or all.")
DESK_CSAT_WINDOW_S = env_float("DESK_CSAT_WINDOW_S", 86400.0)
DESK_CSAT_ASK_TEXT = env_str(
    "DESK_CSAT_ASK_TEXT", "本次服务已结束，请为我们的服务打分：回复 1-5（5 为非常满意），也可以在分数后附上您的意见。"
)
DESK_CSAT_THANKS_TEXT = env_str("DESK_CSAT_THANKS_TEXT", "感谢您的评价，祝您生活愉快！")

SIMULATOR_ENABLED = env_bool("SIMULATOR_ENABLED", True)

# Channel name -> adapter class. Channels without an adapter fail delivery permanently.
DESK_CHANNEL_ADAPTERS = {
    "simulator": "apps.wechat.adapters.simulator.SimulatorAdapter",
    "official_account": "apps.wechat.official_account.adapter.OfficialAccountAdapter",
    "wecom_kf": "apps.wechat.kf.adapter.KfAdapter",
    "wechaty": "apps.wechat.adapters.wechaty.WechatyAdapter",
}
