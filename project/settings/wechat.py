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

WECHAT_KF_SYNC_LIMIT = env_int("WECHAT_KF_SYNC_LIMIT", 1000)
# A kf callback not followed by a finished sync within this many seconds is synced again.
WECHAT_KF_SYNC_GRACE_SECONDS = env_int("WECHAT_KF_SYNC_GRACE_SECONDS", 60)

CELERY_BEAT_SCHEDULE["wechat-kf-sync-sweep"] = {
    "task": "apps.wechat.tasks.kf_sync_sweep",
    "schedule": env_float("WECHAT_KF_SWEEP_INTERVAL_SECONDS", 60.0),
    "options": {"expires": 55},
}
