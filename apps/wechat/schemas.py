from typing import Annotated

from ninja import Schema
from pydantic import StringConstraints

from apps.conversations.schemas import MessageOut, NoNul

SimulatorCustomerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


class SimulatorMessageIn(Schema):
    customer_id: SimulatorCustomerId
    client_message_id: SimulatorCustomerId
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoNul]
    text: Annotated[str, StringConstraints(min_length=1, max_length=2000), NoNul]


class SimulatorImageIn(Schema):
    """The text fields of POST /simulator/messages/image (multipart/form-data, the file in ``image``)."""

    customer_id: SimulatorCustomerId
    client_message_id: SimulatorCustomerId
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoNul]


class SimulatorMessagesOut(Schema):
    messages: list[MessageOut]
