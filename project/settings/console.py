"""Agent console: human handoff phrases and what customers are told when a human is involved."""

from project.settings.env import env_float, env_int, env_list, env_str

# Asking for a person: the conversation goes to the queue and the bot stops answering. With the default
# detector (DESK_HUMAN_REQUEST_DETECTOR) a message that *is* one of these phrases, give or take punctuation,
# spaces, a polite "请/帮我/我要…", a leading 转/找/接 and a trailing particle ("我要转人工！", "人工啊"), asks at
# once; other messages go to the examples (admin: knowledge, "examples of asking for a person"). With
# apps.conversations.pipeline.PhraseDetector a message *containing* one of them asks.
DESK_HUMAN_REQUEST_PHRASES = env_list("DESK_HUMAN_REQUEST_PHRASES", ["转人工", "人工客服", "人工服务", "找人工"])
DESK_HUMAN_REQUEST_REPLY = env_str("DESK_HUMAN_REQUEST_REPLY", "好的，正在为您转接人工客服，请稍候。")
# The default detector's classifier: a message asks when its probability is at least this. Chosen by 10-fold
# cross-validation on the shipped examples, then measured on a held-out labelled set (bench/human_request.py,
# docs/benchmarks.md "Asking for a person"): lower finds more requests and takes more questions about staff.
DESK_HUMAN_REQUEST_THRESHOLD = env_float("DESK_HUMAN_REQUEST_THRESHOLD", 0.75)
# A message longer than this with none of the few characters a request needs (人, 客服, 转, 接…) is not
# scored: no request in the labelled set is, and encoding long text is what costs.
DESK_HUMAN_REQUEST_PLAIN_MAX_CHARS = env_int("DESK_HUMAN_REQUEST_PLAIN_MAX_CHARS", 60)
