"""Plain values passed between the answerer, the pool and the backends (no ORM objects cross the event loop)."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EndpointConfig:
    id: int
    name: str
    base_url: str
    model: str
    api_key: str
    weight: int
    connect_timeout_s: float
    read_timeout_s: float
    total_timeout_s: float
    max_concurrency: int
    # The model may think before it answers (DeepSeek-R1): a reply cut by max_tokens with no closing
    # tag is then all thought. False for a plain chat model (the embedded Qwen): it is a cut answer.
    thinks: bool = True
    # Reuse connections between calls. llama.cpp's server now and then drops a kept-alive connection
    # just as the next request goes out ("Server disconnected without sending a response": 2 calls in
    # ~100 on this box); on loopback a fresh connection per call costs well under a millisecond.
    keep_alive: bool = True


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, str]]
    max_tokens: int
    temperature: float
    top_p: float


@dataclass(frozen=True)
class Completion:
    """One finished call, reasoning already split off the answer."""

    text: str
    reasoning: str
    endpoint: str
    model: str
    ttft_ms: int | None
    total_ms: int
    tokens_in: int | None
    tokens_out: int | None
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def meta(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "model": self.model,
            "ttft_ms": self.ttft_ms,
            "total_ms": self.total_ms,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "finish_reason": self.finish_reason,
            **self.extra,
        }


class EndpointError(Exception):
    """A call to one endpoint failed. ``counts`` says whether it is the endpoint's fault (breaker, failover)."""

    def __init__(self, message: str, *, counts: bool = True) -> None:
        super().__init__(message)
        self.counts = counts


class NoEndpointAvailable(Exception):
    """No backend gave an answer to this call.

    ``retryable`` says whether the same request may succeed in a few seconds: True when endpoints
    failed, timed out or are cooling down (an outage the breaker's probe will end); False when the
    request itself was refused or nothing is configured to answer.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
