"""The one place that speaks HTTP to OpenAI-compatible servers (vLLM, or anything serving /v1/chat/completions).

Streaming SSE so that time-to-first-token is measured and a stalled server is caught by the read timeout
between chunks, not after the whole answer. Errors are EndpointError; ``counts`` tells the pool whether
the endpoint is to blame (5xx, 429, timeouts, broken streams) or the request is (400/413/422).
"""

import asyncio
import functools
import json
import ssl
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import certifi

from apps.llm.reasoning import reasoning_split
from apps.llm.types import ChatRequest, Completion, EndpointConfig, EndpointError

# Statuses that say "this request is bad", not "this server is bad": no failover, no breaker.
_REQUEST_FAULTS = {400, 413, 422}


@dataclass(frozen=True)
class TLSFiles:
    """PEM files for https endpoints (settings DESK_LLM_CA_BUNDLE, DESK_LLM_CLIENT_CERT, DESK_LLM_CLIENT_KEY).

    ``ca_bundle``: CAs trusted besides the public ones (a private CA that signed the vLLM server's
    certificate). ``client_cert`` / ``client_key``: presented to a server that asks for one (mutual TLS);
    the key may sit in the certificate file. Empty: not used. Plain http endpoints ignore all three.
    """

    ca_bundle: str = ""
    client_cert: str = ""
    client_key: str = ""


class TLSConfigError(ValueError):
    """A TLS file named in the settings cannot be loaded."""


def tls_context(files: TLSFiles) -> ssl.SSLContext:
    """Certificates and host names are always verified: there is no switch to turn that off."""
    context = ssl.create_default_context(cafile=certifi.where())  # the public CAs, as certifi ships them
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if files.ca_bundle:
        try:
            context.load_verify_locations(cafile=files.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(f"DESK_LLM_CA_BUNDLE={files.ca_bundle}: cannot load the CA bundle: {exc}") from exc
    if files.client_key and not files.client_cert:
        raise TLSConfigError("DESK_LLM_CLIENT_KEY is set without DESK_LLM_CLIENT_CERT")
    if files.client_cert:
        try:
            context.load_cert_chain(certfile=files.client_cert, keyfile=files.client_key or None)
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(
                f"DESK_LLM_CLIENT_CERT={files.client_cert} / DESK_LLM_CLIENT_KEY={files.client_key or '(in the cert)'}:"
                f" cannot load the client certificate: {exc}"
            ) from exc
    return context


def http_client(*, max_connections: int = 1024, tls: TLSFiles | None = None) -> aiohttp.ClientSession:
    """One shared session per event loop: keep-alive connections are what keeps per-call overhead low.

    aiohttp rather than httpx: with 64 and 128 calls in flight, a streamed completion cost 7.0 and 26.2 ms
    of CPU on httpx (its pool walks every connection on each request and release) against 0.2 ms here
    (bench/llm_client.py); an llm worker has 40-130 in flight. Create it inside the loop that uses it
    (aiohttp binds a session to its loop). https endpoints are verified (``tls_context``), against the public CAs plus
    ``tls.ca_bundle``.
    """
    connector = aiohttp.TCPConnector(
        limit=max_connections,
        ssl=tls_context(tls or TLSFiles()),
        # Under uvicorn's (vLLM's) 5 s idle close, so the desk drops an idle connection before the server
        # does and never sends a request into a connection the server is closing.
        keepalive_timeout=4.0,
    )
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10.0), trust_env=False)


def _describe(exc: BaseException, endpoint: EndpointConfig) -> str:
    """The error's text, with what to change when TLS is why: an untrusted server or a missing client cert."""
    text = f"{type(exc).__name__}: {exc}"
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    for link in chain:
        if isinstance(link, ssl.SSLCertVerificationError):
            cert = getattr(link, "certificate_error", link)  # aiohttp's wrapper keeps ssl's own error there
            why = getattr(cert, "verify_message", "") or getattr(cert, "reason", "") or str(cert)
            return (
                f"TLS: the server's certificate is not trusted ({why}); set DESK_LLM_CA_BUNDLE to the CA that signed it"
            )
    # The server's alert reaches the client as an SSLError on the first read (TLS 1.3), its reason named.
    reasons = " ".join(str(getattr(link, "reason", "") or link) for link in chain).upper()
    if "CERTIFICATE_REQUIRED" in reasons:
        return "TLS: the server requires a client certificate: set DESK_LLM_CLIENT_CERT and DESK_LLM_CLIENT_KEY"
    if "UNKNOWN_CA" in reasons or "BAD_CERTIFICATE" in reasons:
        return f"TLS: the server refused the desk's client certificate ({reasons.strip()[:120]})"
    # asyncio's TLS transport often swallows that alert: the server just closes before any response.
    before_response = isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError) or (
        isinstance(exc, aiohttp.ClientOSError) and isinstance(exc.__cause__, ConnectionResetError)
    )
    if endpoint.base_url.lower().startswith("https://") and before_response:
        return (
            f"{text} (TLS: the server closed the connection before answering, as one that requires a client"
            " certificate does when none or an untrusted one is presented: DESK_LLM_CLIENT_CERT, DESK_LLM_CLIENT_KEY)"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"ConnectError: {exc}"  # nothing listens there, or a firewall: the name logs and alerts know
    return text


@dataclass(frozen=True)
class _Call:
    """What every request to one endpoint repeats, built once per endpoint setting (not per call)."""

    url: str
    headers: dict[str, str]
    timeout: aiohttp.ClientTimeout


@functools.lru_cache(maxsize=128)
def _call_for(endpoint: EndpointConfig, path: str) -> _Call:
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    if not endpoint.keep_alive:
        headers["Connection"] = "close"
    timeout = aiohttp.ClientTimeout(
        total=None,  # the whole call's budget is asyncio.timeout(total_timeout_s) around it
        # Waiting for a pooled connection plus opening one: httpx's pool and connect budgets together.
        connect=2 * endpoint.connect_timeout_s,
        sock_connect=endpoint.connect_timeout_s,
        sock_read=endpoint.read_timeout_s,  # between two reads: a stalled stream is caught mid-answer
    )
    return _Call(url=endpoint.base_url.rstrip("/") + path, headers=headers, timeout=timeout)


def _timeout_name(exc: BaseException) -> str:
    """The timeout's name as operators know it from the logs (and httpx named it before)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "ConnectTimeout"
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return "ReadTimeout"
    return type(exc).__name__


async def chat_complete(*, http: aiohttp.ClientSession, endpoint: EndpointConfig, request: ChatRequest) -> Completion:
    """Stream one chat completion and return it with reasoning split off."""
    body: dict[str, Any] = {
        "model": endpoint.model,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.monotonic()
    budget = asyncio.timeout(endpoint.total_timeout_s)
    try:
        async with budget:
            return await _stream(http=http, endpoint=endpoint, body=body, started=started)
    except TimeoutError as exc:  # the whole budget, or one of aiohttp's (ServerTimeoutError is a TimeoutError)
        if budget.expired():
            raise EndpointError(f"{endpoint.name}: no answer within {endpoint.total_timeout_s}s") from exc
        raise EndpointError(f"{endpoint.name}: {_timeout_name(exc)}") from exc
    except aiohttp.ClientError as exc:
        raise EndpointError(f"{endpoint.name}: {_describe(exc, endpoint)}") from exc
    except ValueError as exc:  # a line past the reader's limit: no SSE chunk of a chat answer is that long
        raise EndpointError(f"{endpoint.name}: malformed SSE stream: {exc}") from exc


async def _head(response: aiohttp.ClientResponse, limit: int = 200) -> str:
    """The start of an error body: enough to say why, without reading a server's whole error page."""
    data = b""
    while len(data) < limit:
        chunk = await response.content.read(limit - len(data))
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


@dataclass
class _Answer:
    """What the stream has told so far."""

    content: list[str]
    reasoning: list[str]
    usage: dict[str, Any]
    ttft_ms: int | None = None
    finish_reason: str | None = None
    chunks: int = 0
    done: bool = False


async def _stream(
    *, http: aiohttp.ClientSession, endpoint: EndpointConfig, body: dict[str, Any], started: float
) -> Completion:
    answer = _Answer(content=[], reasoning=[], usage={})
    call = _call_for(endpoint, "/v1/chat/completions")
    async with http.post(call.url, json=body, headers=call.headers, timeout=call.timeout) as response:
        try:
            if response.status != 200:
                detail = await _head(response)
                raise EndpointError(
                    f"{endpoint.name}: HTTP {response.status} {detail}",
                    counts=response.status not in _REQUEST_FAULTS,
                )
            await _read_events(response, answer, endpoint=endpoint, started=started)
        finally:
            if not endpoint.keep_alive:
                response.close()  # the connection is dropped, not pooled, whatever the server answered
    if not answer.done and answer.finish_reason is None:
        raise EndpointError(f"{endpoint.name}: stream ended before the answer finished")
    split = reasoning_split(
        content="".join(answer.content),
        reasoning_field="".join(answer.reasoning),
        truncated=answer.finish_reason == "length",
        thinks=endpoint.thinks,
    )
    return Completion(
        text=split.answer,
        reasoning=split.reasoning,
        endpoint=endpoint.name,
        model=endpoint.model,
        ttft_ms=answer.ttft_ms,
        total_ms=int((time.monotonic() - started) * 1000),
        tokens_in=answer.usage.get("prompt_tokens"),
        tokens_out=answer.usage.get("completion_tokens", answer.chunks or None),
        finish_reason=answer.finish_reason,
    )


async def _read_events(
    response: aiohttp.ClientResponse, answer: _Answer, *, endpoint: EndpointConfig, started: float
) -> None:
    async for line in response.content:  # bytes, split at b"\n"; json.loads takes UTF-8 bytes as they are
        if not line.startswith(b"data:"):
            continue  # blank separators, ": keep-alive" comments
        data = line[5:].strip()
        if data == b"[DONE]":
            # Read on to the end rather than break: the connection then goes back to the keep-alive pool.
            answer.done = True
            continue
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise EndpointError(f"{endpoint.name}: malformed SSE chunk") from exc
        if "error" in event:
            raise EndpointError(f"{endpoint.name}: stream error {str(event['error'])[:200]}")
        if event.get("usage"):
            answer.usage = event["usage"]
        for choice in event.get("choices") or ():
            delta = choice.get("delta") or {}
            piece = delta.get("content") or ""
            thought = delta.get("reasoning_content") or delta.get("reasoning") or ""
            if (piece or thought) and answer.ttft_ms is None:
                answer.ttft_ms = int((time.monotonic() - started) * 1000)
            if piece:
                answer.content.append(piece)
                answer.chunks += 1
            if thought:
                answer.reasoning.append(thought)
                answer.chunks += 1
            answer.finish_reason = choice.get("finish_reason") or answer.finish_reason


async def endpoint_health(*, http: aiohttp.ClientSession, endpoint: EndpointConfig) -> tuple[bool, str]:
    """Healthy when /health answers 200 and /v1/models lists the configured model."""
    health_call = _call_for(endpoint, "/health")
    models_call = _call_for(endpoint, "/v1/models")
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=2 * endpoint.connect_timeout_s,
        sock_connect=endpoint.connect_timeout_s,
        sock_read=max(endpoint.connect_timeout_s, 2.0),
    )
    try:
        async with http.get(health_call.url, headers=health_call.headers, timeout=timeout) as health:
            if health.status != 200:
                return False, f"/health answered {health.status}"
        async with http.get(models_call.url, headers=models_call.headers, timeout=timeout) as models:
            if models.status != 200:
                return False, f"/v1/models answered {models.status}"
            listing = await models.json(content_type=None)  # vLLM's is application/json; a proxy's may not be
        served = {item.get("id") for item in listing.get("data", [])}
    except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as exc:
        return False, _describe(exc, endpoint)
    if endpoint.model not in served:
        return False, f"model {endpoint.model!r} not served (serves {sorted(str(s) for s in served)[:5]})"
    return True, "ok"
