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

# What the customer is told ({position}: 1-based place in the team's line; {minutes}: the estimate).
DESK_ROUTING_QUEUE_TEXT = env_str(
    "DESK_ROUTING_QUEUE_TEXT", "好的，正在为您转接人工客服。您当前排在第{position}位，预计等待约{minutes}分钟，请稍候。"
)
DESK_ROUTING_FOLLOW_UP_TEXT = env_str(
    "DESK_ROUTING_FOLLOW_UP_TEXT",
    "感谢您的耐心等待，您当前排在第{position}位，预计还需约{minutes}分钟，客服会尽快接入。",
)
DESK_ROUTING_ACK_TEXT = env_str("DESK_ROUTING_ACK_TEXT", "已收到您的消息，客服接入后会第一时间查看，请稍候。")

CELERY_BEAT_SCHEDULE["routing-tick"] = {
    "task": "apps.routing.tasks.routing_tick",
    "schedule": timedelta(seconds=DESK_ROUTING_TICK_S),
    "options": {"expires": DESK_ROUTING_TICK_S},
}
