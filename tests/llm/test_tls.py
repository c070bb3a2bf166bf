"""TLS to an https LLM endpoint, against a real local TLS server (peers/openai_server.py over https).

A throwaway CA, server and client certificates are made per test module with ``cryptography``; the
server listens on 127.0.0.1 with a certificate for that address and, in the mutual-TLS cases,
requires a client certificate signed by its CA. The desk's client verifies the server against the
public CAs plus DESK_LLM_CA_BUNDLE and presents DESK_LLM_CLIENT_CERT / DESK_LLM_CLIENT_KEY.
"""

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from apps.llm import client
from apps.llm.client import TLSConfigError, TLSFiles
from apps.llm.types import ChatRequest, Completion, EndpointConfig, EndpointError
from peers.openai_server import Behaviour, OpenAIServer


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Issued:
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Issued(cert_path, key_path)


def _ca(directory: Path, name: str) -> tuple[Issued, x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _write(directory, name, cert, key), cert, key


def _leaf(
    directory: Path, name: str, ca: tuple[Issued, x509.Certificate, ec.EllipticCurvePrivateKey], *, server: bool
) -> Issued:
    _, ca_cert, ca_key = ca
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
    )
    if server:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return _write(directory, name, builder.sign(ca_key, hashes.SHA256()), key)


@dataclass(frozen=True)
class PKI:
    ca: Issued
    other_ca: Issued
    server: Issued
    client: Issued
    stranger: Issued  # a client certificate from a CA the server does not trust


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    directory = tmp_path_factory.mktemp("pki")
    ca = _ca(directory, "desk-test-ca")
    other = _ca(directory, "some-other-ca")
    return PKI(
        ca=ca[0],
        other_ca=other[0],
        server=_leaf(directory, "vllm-server", ca, server=True),
        client=_leaf(directory, "desk-client", ca, server=False),
        stranger=_leaf(directory, "stranger-client", other, server=False),
    )


@pytest.fixture
def https_server(pki: PKI) -> Iterator[Callable[..., OpenAIServer]]:
    started: list[OpenAIServer] = []

    def _start(*, require_client_cert: bool = False) -> OpenAIServer:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.server.cert, pki.server.key)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=pki.ca.cert)
        server = OpenAIServer(Behaviour(mode="content", answer="您好，七天内可以退货。"), ssl_context=context).start()
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()


def _endpoint(server: OpenAIServer) -> EndpointConfig:
    return EndpointConfig(
        id=1,
        name="vllm-tls",
        base_url=server.url,
        model=server.behaviour.model,
        api_key="",
        weight=1,
        connect_timeout_s=2.0,
        read_timeout_s=2.0,
        total_timeout_s=5.0,
        max_concurrency=4,
        thinks=False,
    )


def _ask(server: OpenAIServer, tls: TLSFiles | None) -> Completion:
    async def call() -> Completion:
        async with client.http_client(max_connections=4, tls=tls) as http:
            request = ChatRequest(
                messages=[{"role": "user", "content": "退货要几天？"}], max_tokens=32, temperature=0.6, top_p=0.95
            )
            return await client.chat_complete(http=http, endpoint=_endpoint(server), request=request)

    return asyncio.run(call())


def _health(server: OpenAIServer, tls: TLSFiles | None) -> tuple[bool, str]:
    async def call() -> tuple[bool, str]:
        async with client.http_client(max_connections=4, tls=tls) as http:
            return await client.endpoint_health(http=http, endpoint=_endpoint(server))

    return asyncio.run(call())


def test_an_https_endpoint_signed_by_the_configured_ca_answers(
    pki: PKI, https_server: Callable[..., OpenAIServer]
) -> None:
    server = https_server()
    assert server.url.startswith("https://")
    completion = _ask(server, TLSFiles(ca_bundle=str(pki.ca.cert)))
    assert completion.text == "您好，七天内可以退货。"
    assert _health(server, TLSFiles(ca_bundle=str(pki.ca.cert))) == (True, "ok")


@pytest.mark.parametrize("bundle", ["none", "other"])
def test_a_server_signed_by_an_untrusted_ca_is_refused_with_a_clear_error(
    pki: PKI, https_server: Callable[..., OpenAIServer], bundle: str
) -> None:
    server = https_server()
    tls = TLSFiles(ca_bundle=str(pki.other_ca.cert)) if bundle == "other" else None
    with pytest.raises(EndpointError) as refused:
        _ask(server, tls)
    message = str(refused.value)
    assert "TLS: the server's certificate is not trusted" in message
    assert "DESK_LLM_CA_BUNDLE" in message
    assert server.stats.requests == 0  # nothing was sent to an unverified server
    healthy, reason = _health(server, tls)
    assert not healthy
    assert "not trusted" in reason


def test_the_client_certificate_is_presented_when_the_server_requires_one(
    pki: PKI, https_server: Callable[..., OpenAIServer]
) -> None:
    server = https_server(require_client_cert=True)
    tls = TLSFiles(ca_bundle=str(pki.ca.cert), client_cert=str(pki.client.cert), client_key=str(pki.client.key))
    assert _ask(server, tls).text == "您好，七天内可以退货。"
    assert server.stats.requests == 1


def test_a_server_requiring_a_client_certificate_refuses_a_desk_without_one(
    pki: PKI, https_server: Callable[..., OpenAIServer]
) -> None:
    server = https_server(require_client_cert=True)
    with pytest.raises(EndpointError) as refused:
        _ask(server, TLSFiles(ca_bundle=str(pki.ca.cert)))
    assert "client certificate" in str(refused.value)
    assert "DESK_LLM_CLIENT_CERT" in str(refused.value)
    stranger = TLSFiles(
        ca_bundle=str(pki.ca.cert), client_cert=str(pki.stranger.cert), client_key=str(pki.stranger.key)
    )
    with pytest.raises(EndpointError) as refused:
        _ask(server, stranger)
    assert "client certificate" in str(refused.value)
    assert server.stats.requests == 0


def test_a_plain_http_endpoint_is_unaffected_by_the_tls_settings(pki: PKI) -> None:
    server = OpenAIServer(Behaviour(mode="content", answer="ok")).start()
    try:
        assert server.url.startswith("http://")
        tls = TLSFiles(ca_bundle=str(pki.ca.cert), client_cert=str(pki.client.cert), client_key=str(pki.client.key))
        assert _ask(server, tls).text == "ok"
        assert _ask(server, None).text == "ok"
    finally:
        server.stop()


def test_unreadable_tls_files_are_named_in_the_error(pki: PKI, tmp_path: Path) -> None:
    with pytest.raises(TLSConfigError, match=r"DESK_LLM_CA_BUNDLE=/nonexistent/ca\.pem"):
        client.tls_context(TLSFiles(ca_bundle="/nonexistent/ca.pem"))
    with pytest.raises(TLSConfigError, match="DESK_LLM_CLIENT_CERT"):
        client.tls_context(TLSFiles(client_cert=str(pki.client.cert), client_key=str(pki.stranger.key)))
    with pytest.raises(TLSConfigError, match="without DESK_LLM_CLIENT_CERT"):
        client.tls_context(TLSFiles(client_key=str(pki.client.key)))


def test_the_runner_builds_its_client_from_the_settings(
    pki: PKI, https_server: Callable[..., OpenAIServer], settings: Any
) -> None:
    """The runner's session trusts DESK_LLM_CA_BUNDLE and presents the client certificate of the settings."""
    from apps.llm.runner import Runner

    settings.DESK_LLM_CA_BUNDLE = str(pki.ca.cert)
    settings.DESK_LLM_CLIENT_CERT = str(pki.client.cert)
    settings.DESK_LLM_CLIENT_KEY = str(pki.client.key)
    server = https_server(require_client_cert=True)

    async def call() -> Completion:
        http = await Runner._make_http()
        try:
            request = ChatRequest(
                messages=[{"role": "user", "content": "退货要几天？"}], max_tokens=32, temperature=0.6, top_p=0.95
            )
            return await client.chat_complete(http=http, endpoint=_endpoint(server), request=request)
        finally:
            await http.close()

    assert asyncio.run(call()).text == "您好，七天内可以退货。"
    assert server.stats.requests == 1
