"""The kinds of the channels this app implements, as named in DESK_CHANNEL_ADAPTERS.

The spine keeps no list of channels (apps.conversations.channels); these are this app's own.
"""

SIMULATOR = "simulator"
WECHATY = "wechaty"
OFFICIAL_ACCOUNT = "official_account"
WECOM_KF = "wecom_kf"
