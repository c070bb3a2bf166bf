"""Websocket routes of every app, mounted by project.asgi."""

from apps.wechat.routing import websocket_urlpatterns as wechat_ws

websocket_urlpatterns = [*wechat_ws]
