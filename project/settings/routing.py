"""Routing (apps/routing): availability, the assigner, and what a waiting customer is told."""

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from project.settings.env import env_float, env_int, env_str
from project.settings.tasks import CELERY_BEAT_SCHEDULE

# Every console tab of an agent closed for this long: the agent is marked away (no new chats).
DESK_ROUTING_AWAY_AFTER_S = env_float("DESK_ROUTING_AWAY_AFTER_S", 120.0)
# What happens to an agent's open conversations when they go offline: "requeue" (back to the
# queue, ahead of newer arrivals) or "teammate" (to the freest online teammate, else the queue).
DESK_ROUTING_ON_OFFLINE = env_str("DESK_ROUTING_ON_OFFLINE", "requeue")
if DESK_ROUTING_ON_OFFLINE not in ("requeue", "teammate"):
    raise ImproperlyConfigured(f"DESK_ROUTING_ON_OFFLINE must be requeue or teammate, not {DESK_ROUTING_ON_OFFLINE!r}.")
# A waiting customer hears from the desk again after this long, up to DESK_ROUTING_FOLLOW_UP_MAX times.
DESK_ROUTING_FOLLOW_UP_S = env_float("DESK_ROUTING_FOLLOW_UP_S", 180.0)
DESK_ROUTING_FOLLOW_UP_MAX = env_int("DESK_ROUTING_FOLLOW_UP_MAX", 3)
# The wait estimate: the median handle time of the team's last tickets, this when there is no history.
DESK_ROUTING_DEFAULT_HANDLE_S = env_float("DESK_ROUTING_DEFAULT_HANDLE_S", 300.0)
DESK_ROUTING_HANDLE_SAMPLE = env_int("DESK_ROUTING_HANDLE_SAMPLE", 50)
# The beat's safety net: drain the queue, send follow-ups and mark absent agents away this often.
DESK_ROUTING_TICK_S = env_float("DESK_ROUTING_TICK_S", 5.0)
# The drain assigns this many waiting tickets per transaction (one lock round, one audit chain step).
# Larger batches cost less per assignment but hold the agents' rows, and the batch's customers, longer.
DESK_ROUTING_DRAIN_BATCH = env_int("DESK_ROUTING_DRAIN_BATCH", 50)
if DESK_ROUTING_DRAIN_BATCH < 1:
    raise ImproperlyConfigured(f"DESK_ROUTING_DRAIN_BATCH must be at least 1, not {DESK_ROUTING_DRAIN_BATCH}.")

# What the customer is told ({position}: 1-based place in the team's line; {minutes}: the estimate).
DESK_ROUTING_QUEUE_TEXT = env_str(
    "DESK_ROUTING_QUEUE_TEXT", "好的，正在为您转接人工客服。您当前排在第{position}位，预计等待约{minutes}分钟，请稍候。"
)
DESK_ROUTING_FOLLOW_UP_TEXT = env_str(
    "DESK_ROUTING_FOLLOW_UP_TEXT",
    "感谢您的耐心等待，您当前排在第{position}位，预计还需约{minutes}分钟，客服会尽快接入。",
)
DESK_ROUTING_ACK_TEXT = env_str("DESK_ROUTING_ACK_TEXT", "已收到您的消息，客服接入后会第一时间查看，请稍候。")

# Business hours (admin: routing, business hours; no row: always open). Off hours a conversation that
# would enter the queue is told when the desk opens, then "queue": it waits for the next shift (no
# assignment, no follow-ups before opening) or "bot": the bot keeps it, unless the customer asked
# for a person (queued, with that said).
DESK_ROUTING_OFF_HOURS = env_str("DESK_ROUTING_OFF_HOURS", "queue")
if DESK_ROUTING_OFF_HOURS not in ("queue", "bot"):
    raise ImproperlyConfigured(f"DESK_ROUTING_OFF_HOURS must be queue or bot, not {DESK_ROUTING_OFF_HOURS!r}.")
# {hours}: the weekly hours ("周一至周日 9:00-21:00"); {next_open}: when the desk opens next ("明天 9:00").
DESK_ROUTING_OFF_HOURS_TEXT = env_str(
    "DESK_ROUTING_OFF_HOURS_TEXT",
    "现在是非工作时间（工作时间：{hours}），我们会在{next_open} 上班后第一时间为您处理。",
)

# Lifecycle: conversations nobody wrote in for this long close by themselves (with the bot; with an
# agent), the customer told DESK_IDLE_CLOSE_*_TEXT first ("": nothing). 0: never. Queued ones wait.
DESK_IDLE_CLOSE_BOT_S = env_float("DESK_IDLE_CLOSE_BOT_S", 1800.0)
DESK_IDLE_CLOSE_HUMAN_S = env_float("DESK_IDLE_CLOSE_HUMAN_S", 86400.0)
DESK_IDLE_CLOSE_BOT_TEXT = env_str("DESK_IDLE_CLOSE_BOT_TEXT", "")
DESK_IDLE_CLOSE_HUMAN_TEXT = env_str(
    "DESK_IDLE_CLOSE_HUMAN_TEXT", "由于长时间没有收到您的消息，本次会话已结束。如有其他问题，欢迎随时联系我们。"
)
# A queued customer silent this long (counted from the opening when queued off hours) has gone: the
# conversation ends "abandoned in the queue", the customer told DESK_QUEUE_ABANDON_TEXT. 0: never.
DESK_QUEUE_ABANDON_S = env_float("DESK_QUEUE_ABANDON_S", 7200.0)
DESK_QUEUE_ABANDON_TEXT = env_str(
    "DESK_QUEUE_ABANDON_TEXT",
    "很抱歉让您久等了，本次排队已结束。如仍需帮助，请随时再发消息给我们，我们会尽快为您服务。",
)
DESK_IDLE_CLOSE_TICK_S = env_float("DESK_IDLE_CLOSE_TICK_S", 60.0)

CELERY_BEAT_SCHEDULE["routing-tick"] = {
    "task": "apps.routing.tasks.routing_tick",
    "schedule": timedelta(seconds=DESK_ROUTING_TICK_S),
    "options": {"expires": DESK_ROUTING_TICK_S},
}
CELERY_BEAT_SCHEDULE["routing-idle-close"] = {
    "task": "apps.routing.tasks.idle_close",
    "schedule": timedelta(seconds=DESK_IDLE_CLOSE_TICK_S),
    "options": {"expires": DESK_IDLE_CLOSE_TICK_S},
}
