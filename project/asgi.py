"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")

# Django must be set up before anything imports models (the websocket routes do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from apps.core.metrics import WebsocketMetricsMiddleware  # noqa: E402
from apps.core.metrics_listener import MetricsLifespan  # noqa: E402
from project.callbacks import CallbackHandler, CallbackRouter  # noqa: E402
from project.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # WeChat's callbacks skip the console's middleware (project/callbacks.py).
        "http": CallbackRouter(django_asgi_app, CallbackHandler()),
        "websocket": WebsocketMetricsMiddleware(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
        # Prometheus metrics on their own port (DESK_WEB_METRICS_PORT), never on this one.
        "lifespan": MetricsLifespan(),
    }
)
