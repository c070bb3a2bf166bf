"""Agent console: human handoff phrases and what customers are told when a human is involved."""

from project.settings.env import env_list, env_str

# A customer message containing one of these (after trimming spaces) asks for a person: the
# conversation goes to the queue and the bot stops answering.
DESK_HUMAN_REQUEST_PHRASES = env_list("DESK_HUMAN_REQUEST_PHRASES", ["转人工", "人工客服", "人工服务", "找人工"])
DESK_HUMAN_REQUEST_REPLY = env_str("DESK_HUMAN_REQUEST_REPLY", "好的，正在为您转接人工客服，请稍候。")
