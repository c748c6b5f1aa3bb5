"""ASGI entry point: Django for HTTP, Channels for `ws/chat/` and `ws/notifications/`."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorhub.settings")

from tutorhub.core.asgi import get_asgi_application  # noqa: E402

# Django's handler with its middleware chain run synchronously, one thread hop per request (see there).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from tutorhub.core.clientip import ClientAddressMiddleware  # noqa: E402
from tutorhub.core.middleware import RequestBodyLimitASGI  # noqa: E402
from tutorhub.core.ws_auth import WebSocketAuthStack  # noqa: E402
from tutorhub.routing import websocket_urlpatterns  # noqa: E402

# The client address is resolved once, from TRUSTED_PROXIES, for HTTP and WebSockets alike.
application = ClientAddressMiddleware(
    ProtocolTypeRouter(
        {
            # Oversized bodies are refused before Django spools them (413).
            "http": RequestBodyLimitASGI(django_asgi_app),
            "websocket": WebSocketAuthStack(URLRouter(websocket_urlpatterns)),
        }
    )
)

# Import what requests would import on first use (the AI SDKs), then move everything loaded so
# far out of the garbage collector's reach: a full collection then walks only what serving
# created, not all of Django and the SDKs. Under load that cut the longest collector pause
# from ~160 ms to ~20 ms (benchmarks/chat_stream.py, 100 concurrent chat streams).
from tutorhub.ai import embeddings, llm, speech, vector_stores  # noqa: E402

for _handler in (llm, embeddings, vector_stores, speech):
    _handler.import_classes()
gc.collect()
gc.freeze()
