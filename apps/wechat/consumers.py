"""Websocket for the simulator page: a nudge that new replies exist; the page then reads
them from the API, so Postgres stays the source of truth and dropped events lose nothing."""

import re
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from apps.wechat.adapters.simulator import simulator_group

_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class SimulatorConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        customer_id = self.scope["url_route"]["kwargs"]["customer_id"]
        if not settings.SIMULATOR_ENABLED or not _CUSTOMER_ID.match(customer_id):
            await self.close(code=4404)
            return
        self.group = simulator_group(customer_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def simulator_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "message", "message_id": event["message_id"]})
