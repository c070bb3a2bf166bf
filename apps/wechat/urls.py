from django.urls import path

from apps.wechat import simulator_media, views
from apps.wechat.kf import views as kf_views
from apps.wechat.official_account import views as oa_views

urlpatterns = [
    path("simulator/", views.simulator, name="simulator"),
    path("simulator/media/", simulator_media.media_list, name="simulator-media-list"),
    path("simulator/media/<int:attachment_id>/", simulator_media.media, name="simulator-media"),
    path("wechat/oa/<str:app_id>/", oa_views.callback, name="wechat-oa-callback"),
    path("wechat/kf/<str:corp_id>/", kf_views.callback, name="wechat-kf-callback"),
]
