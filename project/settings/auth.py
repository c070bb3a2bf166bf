"""Staff login: password checks behind django-axes' throttle.

Five failed logins for one username from one address lock that pair out for 15 minutes; other
users on the same address (a shared office NAT) and the same user from elsewhere still get in.
Attempts are kept by the database handler: lockouts survive a Redis flush, are shared by every
web process, roll back with test transactions, and admins can read and reset them in the admin
(Axes > Access attempts) or with ``manage.py axes_reset_username <name>``.
"""

from datetime import timedelta

from project.settings.env import env_int

# Axes first: it refuses a locked-out pair before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AXES_ENABLED = True
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("DESK_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("DESK_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A success clears the pair's failures, so a typo a week ago does not count against today.
AXES_RESET_ON_SUCCESS = True
# No django-ipware: the address is REMOTE_ADDR, which uvicorn's --proxy-headers sets from the
# trusted proxy's X-Forwarded-For, so a client cannot pick its own address with a forged header.
# The admin login page again, with the lockout explained (status 429).
AXES_LOCKOUT_CALLABLE = "apps.core.lockout.lockout_response"
# Never store the tried password (axes masks it; listing it keeps that explicit).
AXES_SENSITIVE_PARAMETERS = ["password"]
