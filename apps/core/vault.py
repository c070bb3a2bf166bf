"""The desk's one client for HashiCorp Vault (hvac): log in, read the secrets, wrap data keys.

With ``VAULT_ADDR`` set, the settings read the desk's secrets from one KV v2 secret
(``VAULT_KV_MOUNT``/``VAULT_KV_PATH``, fields named like the environment variables they replace) at
start-up, so this module is imported by ``project/settings`` and must not touch Django's settings.
Authentication is AppRole (``VAULT_ROLE_ID`` + ``VAULT_SECRET_ID[_FILE]``) or Kubernetes
(``VAULT_K8S_ROLE`` and the pod's service-account token). Entries of the key ring whose key reads
``vault:v<n>:…`` are data keys wrapped by the Transit key ``VAULT_TRANSIT_KEY``: they are unwrapped
into memory at start and never written anywhere (envelope encryption). A renewer thread keeps the
token alive; when Vault goes away mid-run, the keys already in memory keep serving and
``desk_vault_up`` drops to 0 (alert ``DeskVaultUnreachable``). docs/security.md, "Vault".
"""

import base64
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import requests
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

_K8S_JWT = "/var/run/secrets/kubernetes.io/serviceaccount/token"
_WRAPPED = "vault:"


class VaultUnavailable(Exception):
    """Vault could not be reached or answered 5xx: worth retrying."""


class VaultRefused(Exception):
    """Vault answered, and said no (bad credentials, no such path, permission denied)."""


def _env(environ: Mapping[str, str], name: str, default: str = "") -> str:
    path = environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc}") from exc
    return environ.get(name, default)


@dataclass(frozen=True)
class VaultConfig:
    addr: str
    role_id: str = ""
    secret_id: str = ""
    k8s_role: str = ""
    k8s_jwt_path: str = _K8S_JWT
    kv_mount: str = "secret"
    kv_path: str = "desk"
    transit_mount: str = "transit"
    transit_key: str = "desk"
    ca_cert: str = ""  # a CA bundle for an https VAULT_ADDR signed by a private CA
    timeout_s: float = 5.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "VaultConfig | None":
        addr = environ.get("VAULT_ADDR", "").strip()
        if not addr:
            return None
        config = cls(
            addr=addr,
            role_id=_env(environ, "VAULT_ROLE_ID"),
            secret_id=_env(environ, "VAULT_SECRET_ID"),
            k8s_role=environ.get("VAULT_K8S_ROLE", ""),
            k8s_jwt_path=environ.get("VAULT_K8S_TOKEN_PATH", _K8S_JWT),
            kv_mount=environ.get("VAULT_KV_MOUNT", "secret"),
            kv_path=environ.get("VAULT_KV_PATH", "desk"),
            transit_mount=environ.get("VAULT_TRANSIT_MOUNT", "transit"),
            transit_key=environ.get("VAULT_TRANSIT_KEY", "desk"),
            ca_cert=environ.get("VAULT_CACERT", ""),
            timeout_s=float(environ.get("VAULT_TIMEOUT_SECONDS", "5")),
        )
        if bool(config.role_id) == bool(config.k8s_role):
            raise ImproperlyConfigured(
                "VAULT_ADDR is set: set either VAULT_ROLE_ID and VAULT_SECRET_ID (AppRole) or VAULT_K8S_ROLE "
                "(Kubernetes auth), not both and not neither."
            )
        if config.role_id and not config.secret_id:
            raise ImproperlyConfigured("VAULT_ROLE_ID is set without VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE).")
        return config


class VaultSession:
    """A logged-in client. Every call maps hvac's and requests' errors onto the two above."""

    def __init__(self, config: VaultConfig) -> None:
        self.config = config
        verify: bool | str = config.ca_cert or True
        self.client = hvac.Client(url=config.addr, timeout=config.timeout_s, verify=verify)
        self.lease_s = 0
        self.secrets: dict[str, str] = {}

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise VaultUnavailable(f"Vault at {self.config.addr} is unreachable ({what}): {exc}") from exc
        except (hvac.exceptions.VaultDown, hvac.exceptions.InternalServerError, hvac.exceptions.BadGateway) as exc:
            raise VaultUnavailable(f"Vault at {self.config.addr} cannot serve ({what}): {exc}") from exc
        except hvac.exceptions.VaultError as exc:
            raise VaultRefused(f"Vault at {self.config.addr} refused {what}: {exc}") from exc

    def login(self) -> None:
        config = self.config
        if config.k8s_role:
            try:
                jwt = Path(config.k8s_jwt_path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise VaultRefused(f"the Kubernetes service-account token {config.k8s_jwt_path} is unreadable") from exc
            reply = self._call("login (kubernetes)", self.client.auth.kubernetes.login, config.k8s_role, jwt)
        else:
            reply = self._call(
                "login (approle)", self.client.auth.approle.login, config.role_id, config.secret_id, use_token=True
            )
        self.client.token = reply["auth"]["client_token"]
        self.lease_s = int(reply["auth"]["lease_duration"])

    def renew(self) -> None:
        """Extend the token; a token past its TTL or max TTL cannot be renewed, so log in again."""
        try:
            reply = self._call("token renewal", self.client.auth.token.renew_self)
            self.lease_s = int(reply["auth"]["lease_duration"])
        except VaultRefused:
            self.login()
            return
        if self.lease_s <= 0:  # at its max TTL: renewing gives nothing more
            self.login()

    def read_secrets(self) -> dict[str, str]:
        reply = self._call(
            f"reading {self.config.kv_mount}/{self.config.kv_path}",
            self.client.secrets.kv.v2.read_secret_version,
            path=self.config.kv_path,
            mount_point=self.config.kv_mount,
            raise_on_deleted_version=True,
        )
        self.secrets = {str(k): str(v) for k, v in reply["data"]["data"].items()}
        return self.secrets

    # --- Transit: the key ring's data keys, wrapped ----------------------------------------------
    def _transit(self, what: str, fn: Any, **kwargs: Any) -> dict[str, Any]:
        reply = self._call(what, fn, name=self.config.transit_key, mount_point=self.config.transit_mount, **kwargs)
        return dict(reply.get("data") or {}) if reply is not None else {}

    def unwrap(self, ciphertext: str) -> bytes:
        data = self._transit("transit decrypt", self.client.secrets.transit.decrypt_data, ciphertext=ciphertext)
        return base64.b64decode(data["plaintext"])

    def wrap(self, plaintext: bytes) -> str:
        encoded = base64.b64encode(plaintext).decode()
        data = self._transit("transit encrypt", self.client.secrets.transit.encrypt_data, plaintext=encoded)
        return str(data["ciphertext"])

    def rewrap(self, ciphertext: str) -> str:
        data = self._transit("transit rewrap", self.client.secrets.transit.rewrap_data, ciphertext=ciphertext)
        return str(data["ciphertext"])

    def data_key(self) -> str:
        """A fresh 256-bit key that only Vault has seen in clear: the desk gets it wrapped."""
        data = self._transit(
            "transit datakey", self.client.secrets.transit.generate_data_key, key_type="wrapped", bits=256
        )
        return str(data["ciphertext"])

    def rotate_transit_key(self) -> None:
        self._transit("transit key rotation", self.client.secrets.transit.rotate_key)

    # --- key ring specs: "id:base64,id:vault:v1:…" ----------------------------------------------
    def unwrap_spec(self, spec: str) -> str:
        """The key ring with every wrapped entry replaced by its key, for memory only."""
        return ",".join(
            f"{i}:{base64.b64encode(self.unwrap(k)).decode() if k.startswith(_WRAPPED) else k}"
            for i, k in _entries(spec)
        )

    def rewrap_spec(self, spec: str) -> str:
        return ",".join(f"{i}:{self.rewrap(k) if k.startswith(_WRAPPED) else k}" for i, k in _entries(spec))

    def wrap_spec(self, spec: str) -> str:
        """Move a plain key ring under Transit (the migration from DESK_ENCRYPTION_KEYS in clear)."""
        return ",".join(
            f"{i}:{k if k.startswith(_WRAPPED) else self.wrap(base64.b64decode(k))}" for i, k in _entries(spec)
        )


def _entries(spec: str) -> list[tuple[str, str]]:
    pairs = []
    for item in (part.strip() for part in spec.split(",")):
        if item:
            key_id, _, key = item.partition(":")
            pairs.append((key_id, key))
    return pairs


# --- the process's session, its health and its renewer ------------------------------------------


@dataclass
class Health:
    configured: bool = False
    up: bool = False
    failures: int = 0
    last_ok: float = 0.0


_session: VaultSession | None = None
health = Health()


def session() -> VaultSession | None:
    return _session


def start(environ: Mapping[str, str]) -> VaultSession | None:
    """Log in and read the secrets; called by the settings. Vault away → a start-up error that says so."""
    global _session
    config = VaultConfig.from_env(environ)
    if config is None:
        return None
    vault = VaultSession(config)
    try:
        vault.login()
        vault.read_secrets()
    except (VaultUnavailable, VaultRefused) as exc:
        raise ImproperlyConfigured(
            f"The desk reads its secrets from Vault (VAULT_ADDR={config.addr}) and cannot start without them: {exc}"
        ) from exc
    _session = vault
    health.configured, health.up, health.last_ok = True, True, time.time()
    return vault


def secret(name: str) -> str | None:
    """The KV field ``name`` when Vault is in use; ``None`` lets the caller fall back to the environment."""
    return _session.secrets.get(name) if _session is not None else None


def key_ring_spec(spec: str) -> str:
    """Unwrap a key ring at start; a wrapped entry without Vault, or Vault failing, stops start-up."""
    if _WRAPPED not in spec:
        return spec
    if _session is None:
        raise ImproperlyConfigured("DESK_ENCRYPTION_KEYS holds Vault-wrapped keys (vault:v…) but VAULT_ADDR is unset.")
    try:
        return _session.unwrap_spec(spec)
    except (VaultUnavailable, VaultRefused) as exc:
        raise ImproperlyConfigured(f"The key ring's data keys cannot be unwrapped by Vault Transit: {exc}") from exc


def renew_once(vault: VaultSession) -> None:
    """One renewal; a failure is logged and shown on desk_vault_up, the keys in memory keep serving."""
    try:
        vault.renew()
    except (VaultUnavailable, VaultRefused):
        health.up = False
        health.failures += 1
        logger.error("vault: token renewal failed; serving with the keys in memory", exc_info=True)
        return
    health.up, health.last_ok = True, time.time()


def _renew_loop(vault: VaultSession) -> None:
    while True:
        # Half the lease, as Vault's own agent does; after a failure try again soon, not in an hour.
        wait = max(5.0, vault.lease_s / 2) if health.up else 10.0
        time.sleep(wait)
        renew_once(vault)


_renewer_pid: int | None = None


def renewer_start() -> None:
    """One renewer per process (a forked child starts its own); nothing without Vault."""
    global _renewer_pid
    if _session is None or _renewer_pid == os.getpid():
        return
    _renewer_pid = os.getpid()
    threading.Thread(target=_renew_loop, args=(_session,), name="vault-renewer", daemon=True).start()
