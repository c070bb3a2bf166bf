from django.urls import path
from django.views.generic import RedirectView

from apps.wechat import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="simulator", permanent=False)),
    path("simulator/", views.simulator, name="simulator"),
]
