"""Secrets and the key ring from HashiCorp Vault, against a local server speaking Vault's HTTP API
(peers/fake_vault.py): start-up with KV v2 and Transit, token renewal, rotation, and Vault going away
at start (a clear error) or mid-run (the keys in memory keep serving, desk_vault_up drops to 0)."""

import base64
import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from prometheus_client import REGISTRY

from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.core import crypto, vault
from peers.fake_vault import FakeVault, serve

ROOT = Path(__file__).resolve().parents[2]
ROLE_ID, SECRET_ID = "desk-role", "s3cr3t-id"
SECRETS = {
    "DJANGO_SECRET_KEY": "vault-secret-key-" + "x" * 40,
    "DESK_INBOUND_API_TOKEN": "vault-inbound-token",
    "DESK_METRICS_TOKEN": "vault-metrics-token-" + "m" * 32,
}


@pytest.fixture
def fake() -> Iterator[FakeVault]:
    fake = FakeVault(approle={ROLE_ID: SECRET_ID}, kubernetes={"desk": "service-account-jwt"})
    fake.transit_key("desk")
    fake.kv["secret/desk"] = dict(SECRETS)
    server = serve(fake)
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _fresh_session() -> Iterator[None]:
    vault._session, vault.health = None, vault.Health()
    yield
    vault._session, vault.health = None, vault.Health()


def approle_env(fake: FakeVault, **extra: str) -> dict[str, str]:
    return {"VAULT_ADDR": fake.url, "VAULT_ROLE_ID": ROLE_ID, "VAULT_SECRET_ID": SECRET_ID, **extra}


def wrapped_ring(fake: FakeVault, *key_ids: str) -> tuple[str, dict[str, bytes]]:
    """A key ring of Transit data keys as an operator stores it, and the keys it stands for."""
    start = vault.start(approle_env(fake))
    assert start is not None
    spec = ",".join(f"{key_id}:{start.data_key()}" for key_id in key_ids)
    keys = {key_id: start.unwrap(spec.split(",")[n].partition(":")[2]) for n, key_id in enumerate(key_ids)}
    return spec, keys


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def metric(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


# --- start-up -------------------------------------------------------------------------------------


def test_it_logs_in_with_approle_and_reads_the_desks_secrets(fake: FakeVault) -> None:
    session = vault.start(approle_env(fake))

    assert session is not None
    assert vault.secret("DJANGO_SECRET_KEY") == SECRETS["DJANGO_SECRET_KEY"]
    assert vault.secret("NOT_IN_VAULT") is None  # the settings fall back to the environment
    assert fake.calls[:2] == ["POST /v1/auth/approle/login", "GET /v1/secret/data/desk"]
    assert metric("desk_vault_up") == 1.0


def test_it_logs_in_with_the_pods_kubernetes_service_account(fake: FakeVault, tmp_path: Path) -> None:
    jwt = tmp_path / "token"
    jwt.write_text("service-account-jwt\n")

    vault.start({"VAULT_ADDR": fake.url, "VAULT_K8S_ROLE": "desk", "VAULT_K8S_TOKEN_PATH": str(jwt)})

    assert vault.secret("DESK_INBOUND_API_TOKEN") == "vault-inbound-token"
    assert fake.calls[0] == "POST /v1/auth/kubernetes/login"


def test_without_vault_addr_nothing_changes() -> None:
    assert vault.start({"VAULT_ROLE_ID": ROLE_ID}) is None
    assert vault.secret("DJANGO_SECRET_KEY") is None
    assert metric("desk_vault_up") is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VAULT_SECRET_ID": "wrong"}, "refused login \\(approle\\).*invalid role or secret ID"),
        ({"VAULT_KV_PATH": "elsewhere"}, "refused reading secret/elsewhere"),
    ],
)
def test_a_refusal_at_start_is_a_clear_start_up_error(fake: FakeVault, env: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"cannot start without them: .*{message}"):
        vault.start(approle_env(fake, **env))


def test_vault_unreachable_at_start_stops_start_up_naming_the_address() -> None:
    addr = closed_port()
    env = {"VAULT_ADDR": addr, "VAULT_ROLE_ID": ROLE_ID, "VAULT_SECRET_ID": SECRET_ID, "VAULT_TIMEOUT_SECONDS": "1"}

    with pytest.raises(ImproperlyConfigured, match=f"VAULT_ADDR={addr}.*unreachable"):
        vault.start(env)


def test_half_an_auth_configuration_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="either VAULT_ROLE_ID"):
        vault.start({"VAULT_ADDR": "http://127.0.0.1:1"})
    with pytest.raises(ImproperlyConfigured, match="without VAULT_SECRET_ID"):
        vault.start({"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_ROLE_ID": ROLE_ID})


def _production_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = (
        "from django.conf import settings\n"
        "from apps.core import crypto\n"
        "ring = crypto.keyring()\n"
        "same = settings.SECRET_KEY == 'vault-secret-key-' + 'x' * 40\n"
        "print(same, settings.DESK_INBOUND_API_TOKEN, ring.primary_id)\n"
    )
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DESK_", "VAULT_"))}
    full = {**keep, "DJANGO_SETTINGS_MODULE": "project.settings.production", **env}
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )


def test_production_starts_on_vault_alone_with_a_transit_wrapped_key_ring(fake: FakeVault) -> None:
    spec, _ = wrapped_ring(fake, "k1")
    fake.kv["secret/desk"]["DESK_ENCRYPTION_KEYS"] = spec

    done = _production_settings(approle_env(fake))

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "vault-inbound-token", "k1"]


def test_production_refuses_to_start_when_vault_is_down() -> None:
    done = _production_settings({"VAULT_ADDR": closed_port(), "VAULT_ROLE_ID": ROLE_ID, "VAULT_SECRET_ID": "x"})

    assert done.returncode != 0
    assert "reads its secrets from Vault" in done.stderr
    assert "unreachable" in done.stderr


# --- Transit: envelope encryption of the key ring -------------------------------------------------


def test_wrapped_data_keys_are_unwrapped_into_memory_and_encrypt(fake: FakeVault) -> None:
    spec, keys = wrapped_ring(fake, "k2", "k1")

    plain = vault.key_ring_spec(spec)
    ring = crypto.parse_keys(plain)

    assert ring.primary_id == "k2"
    assert ring.keys == keys
    stored = crypto.encrypt("退款到哪了", context="t.c", ring=ring)
    assert crypto.decrypt(stored, context="t.c", ring=ring) == "退款到哪了"
    # What Vault's KV (or an operator's clipboard) holds never includes a key in clear
    assert all(base64.b64encode(key).decode() not in spec for key in keys.values())


def test_a_tampered_wrapped_key_stops_start_up(fake: FakeVault) -> None:
    spec, _ = wrapped_ring(fake, "k1")
    key_id, _, ciphertext = spec.partition(":")
    tampered = f"{key_id}:{ciphertext[:-6]}AAAAAA"

    with pytest.raises(ImproperlyConfigured, match=r"cannot be unwrapped by Vault Transit.*unable to decrypt"):
        vault.key_ring_spec(tampered)


def test_a_wrapped_key_ring_without_vault_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="VAULT_ADDR is unset"):
        vault.key_ring_spec("k1:vault:v1:abc")


# --- token renewal and Vault going away mid-run ---------------------------------------------------


def test_the_renewer_extends_the_token_and_logs_in_again_once_it_expired(fake: FakeVault) -> None:
    session = vault.start(approle_env(fake))
    assert session is not None
    first = session.client.token

    vault.renew_once(session)
    assert session.client.token == first
    assert fake.calls[-1] == "POST /v1/auth/token/renew-self"

    fake.expire_tokens()
    vault.renew_once(session)  # the renewal is refused (403), so it logs in again
    assert session.client.token != first
    assert fake.calls[-2:] == ["POST /v1/auth/token/renew-self", "POST /v1/auth/approle/login"]
    assert vault.health.up
    assert vault.health.failures == 0
    assert session.read_secrets()["DESK_INBOUND_API_TOKEN"] == "vault-inbound-token"


def test_a_token_at_its_max_ttl_is_replaced_by_a_new_login(fake: FakeVault) -> None:
    fake.token_max_ttl_s = 0  # renewals give nothing more
    session = vault.start(approle_env(fake))
    assert session is not None
    first = session.client.token

    vault.renew_once(session)

    assert session.client.token != first


def test_vault_down_mid_run_keeps_the_keys_serving_and_raises_the_alert_metric(
    fake: FakeVault, caplog: pytest.LogCaptureFixture
) -> None:
    spec, _ = wrapped_ring(fake, "k1")
    ring = crypto.parse_keys(vault.key_ring_spec(spec))
    session = vault.session()
    assert session is not None
    fake.sealed = True  # every call now answers 503, as a sealed or failing Vault does

    vault.renew_once(session)

    assert metric("desk_vault_up") == 0.0
    assert metric("desk_vault_failures_total") == 1.0
    assert "token renewal failed; serving with the keys in memory" in caplog.text
    assert crypto.decrypt(crypto.encrypt("还在", context="t.c", ring=ring), context="t.c", ring=ring) == "还在"

    fake.sealed = False
    vault.renew_once(session)
    assert metric("desk_vault_up") == 1.0


# --- rotation -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rotation_with_transit_a_new_wrapped_data_key_then_rotate_keys(fake: FakeVault, settings: Any) -> None:
    old_plain = settings.DESK_ENCRYPTION_KEYS
    old_spec, _ = wrapped_ring(fake, "k1")
    settings.DESK_ENCRYPTION_KEYS = vault.key_ring_spec(old_spec)
    crypto.keyring.cache_clear()
    row = audit_record(kind=AuditLog.Kind.EXCHANGE, event="bot.answer", channel="simulator", query="旧的问题")
    try:
        out = io.StringIO()
        call_command("rotate_keys", new_key="k2", stdout=out)
        entry = out.getvalue().strip()
        assert entry.startswith("k2:vault:v1:")  # only the wrapped key is ever printed

        # The operator puts it first in Vault's KV; at the next start the desk unwraps both.
        settings.DESK_ENCRYPTION_KEYS = vault.key_ring_spec(f"{entry},{old_spec}")
        crypto.keyring.cache_clear()
        call_command("rotate_keys", verbosity=0, stdout=io.StringIO())

        with connection.cursor() as cursor:
            cursor.execute("SELECT query FROM audit_auditlog WHERE id = %s", [row.pk])
            assert cursor.fetchone()[0].startswith("v1:k2:")
        assert AuditLog.objects.get(pk=row.pk).query == "旧的问题"
    finally:
        # The settings fixture restores the test key ring after this: no ring of this test stays cached.
        settings.DESK_ENCRYPTION_KEYS = old_plain
        crypto.keyring.cache_clear()


def test_rewrap_rotates_the_transit_key_and_keeps_the_data_keys(fake: FakeVault) -> None:
    spec, keys = wrapped_ring(fake, "k2", "k1")
    fake.kv["secret/desk"]["DESK_ENCRYPTION_KEYS"] = spec

    out = io.StringIO()
    call_command("rotate_keys", rewrap=True, stdout=out)
    rewrapped = out.getvalue().strip()

    assert [entry.split(":")[:3] for entry in rewrapped.split(",")] == [["k2", "vault", "v2"], ["k1", "vault", "v2"]]
    fake.transit["desk"].min_decryption_version = 2  # the old key version retired in Vault
    assert crypto.parse_keys(vault.key_ring_spec(rewrapped)).keys == keys
    with pytest.raises(ImproperlyConfigured):
        vault.key_ring_spec(spec)


def test_wrap_moves_a_plain_key_ring_under_transit(fake: FakeVault, settings: Any) -> None:
    plain = settings.DESK_ENCRYPTION_KEYS = crypto.new_key_spec("k1")  # from the environment or the KV
    vault.start(approle_env(fake))

    out = io.StringIO()
    call_command("rotate_keys", wrap=True, stdout=out)

    assert out.getvalue().strip().startswith("k1:vault:v1:")
    assert vault.key_ring_spec(out.getvalue().strip()) == plain


def test_transit_commands_say_clearly_when_vault_is_down(fake: FakeVault) -> None:
    vault.start(approle_env(fake))
    fake.sealed = True

    with pytest.raises(CommandError, match="cannot serve \\(transit datakey\\)"):
        call_command("rotate_keys", new_key="k3", stdout=io.StringIO())


def test_transit_commands_need_vault() -> None:
    with pytest.raises(CommandError, match="need Vault"):
        call_command("rotate_keys", rewrap=True, stdout=io.StringIO())
