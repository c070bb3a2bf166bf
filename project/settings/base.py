"""Django core settings. Integration settings live in sibling modules, one per concern,
composed at the bottom of this file; environment modules (local/test/production) import
this one and override what differs."""

from pathlib import Path
from typing import Any

import django_stubs_ext
from django.utils.translation import gettext_lazy as _

from project.settings.env import env_bool, env_list, env_str

# Lets admin and querysets be written with generic types at run time, as mypy sees them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_prometheus",
    "channels",
    "axes",
    "apps.core",
    "apps.audit",
    "apps.conversations",
    "apps.wechat",
    "import_export",
    "apps.moderation",
    "apps.llm",
    "apps.knowledge",
    "apps.reports",
    "apps.console",
    "apps.routing",
    "apps.customers",
    "apps.connectors",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "apps.core.logs.RequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last of the request middleware, as axes asks: it turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Staff speak Chinese by default; English is one click (or one Accept-Language) away.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "admin:login"

# Bodies above this are refused before parsing (the inbound API answers 413).
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

from project.settings.auth import *  # noqa: E402,F403
from project.settings.connectors import *  # noqa: E402,F403
from project.settings.console import *  # noqa: E402,F403
from project.settings.data import *  # noqa: E402,F403
from project.settings.desk import *  # noqa: E402,F403
from project.settings.knowledge import *  # noqa: E402,F403
from project.settings.llm import *  # noqa: E402,F403
from project.settings.logs import *  # noqa: E402,F403
from project.settings.metrics import *  # noqa: E402,F403
from project.settings.moderation import *  # noqa: E402,F403
from project.settings.reports import *  # noqa: E402,F403
from project.settings.routing import *  # noqa: E402,F403
from project.settings.security import *  # noqa: E402,F403
from project.settings.tasks import *  # noqa: E402,F403
from project.settings.wechat import *  # noqa: E402,F403
from project.settings.wechaty import *  # noqa: E402,F403

# Media on an S3-compatible bucket (several web nodes; MinIO in docker-compose). The files are
# sealed before they leave the process (apps/conversations/media/store.py), so the bucket holds
# ciphertext only.
if DESK_MEDIA_STORAGE == "s3":
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": DESK_MEDIA_S3_OPTIONS}
