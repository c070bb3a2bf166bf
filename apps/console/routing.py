from django.urls import re_path

from apps.console.consumers import ConsoleConsumer

websocket_urlpatterns = [
    re_path(r"^ws/console/$", ConsoleConsumer.as_asgi()),
    re_path(r"^ws/console/conversations/(?P<conversation_id>[0-9]{1,18})/$", ConsoleConsumer.as_asgi()),
]
