"""WeChat Official Account and WeCom 微信客服 (kf): API endpoints, timeouts and the rules
WeChat imposes on replies (byte limit, 5 messages within 48 h of the customer's last message)."""

from project.settings.env import env_float, env_int, env_str
from project.settings.tasks import CELERY_BEAT_SCHEDULE

# Base URLs are settings so tests (and an egress proxy) can point them elsewhere.
WECHAT_OA_API_BASE_URL = env_str("WECHAT_OA_API_BASE_URL", "https://api.weixin.qq.com")
WECHAT_WECOM_API_BASE_URL = env_str("WECHAT_WECOM_API_BASE_URL", "https://qyapi.weixin.qq.com")
WECHAT_HTTP_CONNECT_TIMEOUT = env_float("WECHAT_HTTP_CONNECT_TIMEOUT", 3.0)
WECHAT_HTTP_READ_TIMEOUT = env_float("WECHAT_HTTP_READ_TIMEOUT", 5.0)

# Callbacks older (or newer) than this are refused, which bounds replays of a captured request.
WECHAT_TIMESTAMP_TOLERANCE_SECONDS = env_int("WECHAT_TIMESTAMP_TOLERANCE_SECONDS", 300)
WECHAT_WEBHOOK_MAX_BYTES = env_int("WECHAT_WEBHOOK_MAX_BYTES", 64 * 1024)

# access_token lives 7200 s; refresh this long before it expires so no call races the expiry.
WECHAT_TOKEN_REFRESH_MARGIN_SECONDS = env_int("WECHAT_TOKEN_REFRESH_MARGIN_SECONDS", 300)

WECHAT_TEXT_MAX_BYTES = env_int("WECHAT_TEXT_MAX_BYTES", 2048)
WECHAT_REPLY_WINDOW_HOURS = env_int("WECHAT_REPLY_WINDOW_HOURS", 48)
WECHAT_REPLY_BUDGET = env_int("WECHAT_REPLY_BUDGET", 5)
WECHAT_TRUNCATION_NOTICE = env_str(
    "WECHAT_TRUNCATION_NOTICE", "（回答较长，未尽部分请回复“人工”，由客服为您继续解答。）"
)
WECHAT_SUBSCRIBE_GREETING = env_str(
    "WECHAT_SUBSCRIBE_GREETING", "您好，欢迎关注！有任何问题请直接留言，我们会尽快回复。"
)

# Official Account passive replies (docs/architecture.md): WeChat waits WECHAT_OA_CALLBACK_TIMEOUT
# seconds for a callback's response and tries WECHAT_OA_CALLBACK_TRIES times in all; each try is held
# up to WECHAT_OA_PASSIVE_WAIT_SECONDS for the answer (the rest of the 5 s is the margin to send it).
WECHAT_OA_CALLBACK_TIMEOUT_SECONDS = env_float("WECHAT_OA_CALLBACK_TIMEOUT_SECONDS", 5.0)
WECHAT_OA_CALLBACK_TRIES = env_int("WECHAT_OA_CALLBACK_TRIES", 3)
WECHAT_OA_PASSIVE_WAIT_SECONDS = env_float("WECHAT_OA_PASSIVE_WAIT_SECONDS", 4.5)
# A held callback re-reads Postgres this often even without a wake-up (lost pub/sub message, Redis down).
WECHAT_OA_PASSIVE_POLL_SECONDS = env_float("WECHAT_OA_PASSIVE_POLL_SECONDS", 1.0)
# The last try's answer when the reply is not ready: the reply then rides on the customer's next message.
WECHAT_OA_PASSIVE_HOLDING_TEXT = env_str("WECHAT_OA_PASSIVE_HOLDING_TEXT", "正在为您查询，请稍后回复任意内容查看答复。")
# A parked reply the customer never collected (no new message) fails after this long.
WECHAT_OA_PASSIVE_HOLD_HOURS = env_int("WECHAT_OA_PASSIVE_HOLD_HOURS", 48)

WECHAT_KF_SYNC_LIMIT = env_int("WECHAT_KF_SYNC_LIMIT", 1000)
# A kf callback not followed by a finished sync within this many seconds is synced again.
WECHAT_KF_SYNC_GRACE_SECONDS = env_int("WECHAT_KF_SYNC_GRACE_SECONDS", 60)
# A welcome_code / msg_code is good for one kf/send_msg_on_event within 20 s of its event.
WECHAT_KF_EVENT_CODE_SECONDS = env_float("WECHAT_KF_EVENT_CODE_SECONDS", 20.0)
# Sent with the msg_code of a session's end when the kf account has no closing text of its own.
WECHAT_KF_CLOSING_TEXT = env_str(
    "WECHAT_KF_CLOSING_TEXT", "感谢您的咨询，本次服务已结束。如有其他问题，欢迎随时联系我们。"
)

# Threads kept for the callbacks' sync code (project/callbacks.py): reused, not one started per
# callback. Past this many callbacks at once, each extra one gets a thread of its own. Keep it under
# DATABASE_POOL_MAX_SIZE.
DESK_CALLBACK_THREADS = env_int("DESK_CALLBACK_THREADS", 16)

CELERY_BEAT_SCHEDULE["wechat-kf-sync-sweep"] = {
    "task": "apps.wechat.tasks.kf_sync_sweep",
    "schedule": env_float("WECHAT_KF_SWEEP_INTERVAL_SECONDS", 60.0),
    "options": {"expires": 55},
}
