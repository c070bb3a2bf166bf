"""The one place that speaks HTTP to OpenAI-compatible servers (vLLM, or anything serving /v1/chat/completions).

Streaming SSE so that time-to-first-token is measured and a stalled server is caught by the read timeout
between chunks, not after the whole answer. Errors are EndpointError; ``counts`` tells the pool whether
the endpoint is to blame (5xx, 429, timeouts, broken streams) or the request is (400/413/422).
"""

import asyncio
import json
import ssl
import time
from dataclasses import dataclass
from typing import Any

import certifi
import httpx

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
    context = ssl.create_default_context(cafile=certifi.where())  # httpx's own default trust store
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


def http_client(*, max_connections: int = 1024, tls: TLSFiles | None = None) -> httpx.AsyncClient:
    """One shared AsyncClient per event loop: keep-alive connections are what keeps per-call overhead low.

    https endpoints are verified (``tls_context``), against the public CAs plus ``tls.ca_bundle``.
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncClient(
        limits=limits, timeout=httpx.Timeout(10.0), trust_env=False, verify=tls_context(tls or TLSFiles())
    )


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
            return (
                f"TLS: the server's certificate is not trusted ({link.verify_message or link.reason});"
                " set DESK_LLM_CA_BUNDLE to the CA that signed it"
            )
    # The server's alert reaches the client as an SSLError on the first read (TLS 1.3), its reason named.
    reasons = " ".join(str(getattr(link, "reason", "") or link) for link in chain).upper()
    if "CERTIFICATE_REQUIRED" in reasons:
        return "TLS: the server requires a client certificate: set DESK_LLM_CLIENT_CERT and DESK_LLM_CLIENT_KEY"
    if "UNKNOWN_CA" in reasons or "BAD_CERTIFICATE" in reasons:
        return f"TLS: the server refused the desk's client certificate ({reasons.strip()[:120]})"
    # asyncio's TLS transport often swallows that alert: the server just closes before any response.
    before_response = isinstance(exc, httpx.ReadError) or "without sending a response" in str(exc)
    if endpoint.base_url.lower().startswith("https://") and before_response:
        return (
            f"{text} (TLS: the server closed the connection before answering, as one that requires a client"
            " certificate does when none or an untrusted one is presented: DESK_LLM_CLIENT_CERT, DESK_LLM_CLIENT_KEY)"
        )
    return text


def _url(endpoint: EndpointConfig, path: str) -> str:
    return endpoint.base_url.rstrip("/") + path


def _headers(endpoint: EndpointConfig) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    if not endpoint.keep_alive:
        headers["Connection"] = "close"
    return headers


def _timeout(endpoint: EndpointConfig) -> httpx.Timeout:
    return httpx.Timeout(
        connect=endpoint.connect_timeout_s,
        read=endpoint.read_timeout_s,
        write=endpoint.connect_timeout_s,
        pool=endpoint.connect_timeout_s,
    )


async def chat_complete(*, http: httpx.AsyncClient, endpoint: EndpointConfig, request: ChatRequest) -> Completion:
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
    try:
        async with asyncio.timeout(endpoint.total_timeout_s):
            return await _stream(http=http, endpoint=endpoint, body=body, started=started)
    except TimeoutError as exc:
        raise EndpointError(f"{endpoint.name}: no answer within {endpoint.total_timeout_s}s") from exc
    except httpx.TimeoutException as exc:
        raise EndpointError(f"{endpoint.name}: {type(exc).__name__}") from exc
    except httpx.HTTPError as exc:
        raise EndpointError(f"{endpoint.name}: {_describe(exc, endpoint)}") from exc


async def _stream(
    *, http: httpx.AsyncClient, endpoint: EndpointConfig, body: dict[str, Any], started: float
) -> Completion:
    content: list[str] = []
    reasoning: list[str] = []
    ttft_ms: int | None = None
    usage: dict[str, Any] = {}
    finish_reason: str | None = None
    chunks = 0
    done = False
    async with http.stream(
        "POST",
        _url(endpoint, "/v1/chat/completions"),
        json=body,
        headers=_headers(endpoint),
        timeout=_timeout(endpoint),
    ) as response:
        if response.status_code != 200:
            detail = (await response.aread())[:200].decode(errors="replace")
            raise EndpointError(
                f"{endpoint.name}: HTTP {response.status_code} {detail}",
                counts=response.status_code not in _REQUEST_FAULTS,
            )
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue  # blank separators, ": keep-alive" comments
            data = line[5:].strip()
            if data == "[DONE]":
                # Read on to the end rather than break: the connection then goes back to the keep-alive pool.
                done = True
                continue
            try:
                event = json.loads(data)
            except ValueError as exc:
                raise EndpointError(f"{endpoint.name}: malformed SSE chunk") from exc
            if "error" in event:
                raise EndpointError(f"{endpoint.name}: stream error {str(event['error'])[:200]}")
            if event.get("usage"):
                usage = event["usage"]
            for choice in event.get("choices") or ():
                delta = choice.get("delta") or {}
                piece = delta.get("content") or ""
                thought = delta.get("reasoning_content") or delta.get("reasoning") or ""
                if (piece or thought) and ttft_ms is None:
                    ttft_ms = int((time.monotonic() - started) * 1000)
                if piece:
                    content.append(piece)
                    chunks += 1
                if thought:
                    reasoning.append(thought)
                    chunks += 1
                finish_reason = choice.get("finish_reason") or finish_reason
    if not done and finish_reason is None:
        raise EndpointError(f"{endpoint.name}: stream ended before the answer finished")
    split = reasoning_split(
        content="".join(content),
        reasoning_field="".join(reasoning),
        truncated=finish_reason == "length",
        thinks=endpoint.thinks,
    )
    return Completion(
        text=split.answer,
        reasoning=split.reasoning,
        endpoint=endpoint.name,
        model=endpoint.model,
        ttft_ms=ttft_ms,
        total_ms=int((time.monotonic() - started) * 1000),
        tokens_in=usage.get("prompt_tokens"),
        tokens_out=usage.get("completion_tokens", chunks or None),
        finish_reason=finish_reason,
    )


async def endpoint_health(*, http: httpx.AsyncClient, endpoint: EndpointConfig) -> tuple[bool, str]:
    """Healthy when /health answers 200 and /v1/models lists the configured model."""
    timeout = httpx.Timeout(endpoint.connect_timeout_s, read=max(endpoint.connect_timeout_s, 2.0))
    try:
        health = await http.get(_url(endpoint, "/health"), headers=_headers(endpoint), timeout=timeout)
        if health.status_code != 200:
            return False, f"/health answered {health.status_code}"
        models = await http.get(_url(endpoint, "/v1/models"), headers=_headers(endpoint), timeout=timeout)
        if models.status_code != 200:
            return False, f"/v1/models answered {models.status_code}"
        served = {item.get("id") for item in models.json().get("data", [])}
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return False, _describe(exc, endpoint)
    if endpoint.model not in served:
        return False, f"model {endpoint.model!r} not served (serves {sorted(str(s) for s in served)[:5]})"
    return True, "ok"
