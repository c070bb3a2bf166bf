"""Websocket routes of every app, mounted by project.asgi."""

from apps.console.routing import websocket_urlpatterns as console_ws
from apps.wechat.routing import websocket_urlpatterns as wechat_ws

websocket_urlpatterns = [*wechat_ws, *console_ws]
