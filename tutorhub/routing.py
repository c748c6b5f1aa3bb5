from tutorhub.chat.routing import websocket_urlpatterns as chat_ws
from tutorhub.engagement.routing import websocket_urlpatterns as engagement_ws

websocket_urlpatterns = [*chat_ws, *engagement_ws]
