from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from apps.console import inbox_views
from apps.core import views as core_views
from project.api import api

admin.site.site_header = _("WeChat AI service desk")
admin.site.site_title = _("WeChat AI service desk")
admin.site.index_title = _("Service desk administration")

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("apps.wechat.urls")),
    # The admin's own login, except that agents land in the console's inbox (apps/console/inbox_views.py).
    path("admin/login/", inbox_views.login),
    path("admin/", admin.site.urls),
]
