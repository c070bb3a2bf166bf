from django.urls import re_path

from apps.wechat.consumers import SimulatorConsumer

websocket_urlpatterns = [
    re_path(r"^ws/simulator/(?P<customer_id>[A-Za-z0-9_-]{8,64})/$", SimulatorConsumer.as_asgi()),
]
