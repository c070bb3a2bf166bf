"""Websocket for console pages: nudges that something changed; the page rereads Postgres.

Authorised like the pages: the session's user must be active staff with the console
permission, else the handshake is refused (the browser sees a failed connection).
"""

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.console import selectors
from apps.conversations import events
from apps.routing import services as routing


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    joined: tuple[str, ...] = ()
    # Every open console tab counts as presence: with none for a while, routing marks the agent away.
    agent_id: int | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not await database_sync_to_async(selectors.can_use_console)(user=user):
            await self.close(code=4403)
            return
        conversation_id = self.scope["url_route"]["kwargs"].get("conversation_id")
        self.joined = (events.conversation_group(int(conversation_id)),) if conversation_id else (events.LISTS_GROUP,)
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.agent_id = user.pk
        await database_sync_to_async(routing.presence_connect)(user_id=user.pk)

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.agent_id is not None:
            await database_sync_to_async(routing.presence_disconnect)(user_id=self.agent_id)

    async def desk_event(self, event: dict[str, Any]) -> None:  # events.EVENT_TYPE
        await self.send_json({key: value for key, value in event.items() if key != "type"})
