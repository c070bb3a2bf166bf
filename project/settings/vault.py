"""Secrets from HashiCorp Vault when VAULT_ADDR is set (docs/security.md, "Vault").

Production's secrets are read through ``secret_str``: the field of that name in the KV v2 secret
when Vault is in use, else the environment (``NAME`` or ``NAME_FILE``). Vault is logged into once,
here, at start-up, so an unreachable Vault stops the process with one clear message instead of
failing the first request.
"""

import os

from apps.core import vault
from project.settings.env import env_str

vault.start(os.environ)


def secret_str(name: str) -> str:
    value = vault.secret(name)
    return value if value is not None else env_str(name)


def key_ring(name: str = "DESK_ENCRYPTION_KEYS") -> str:
    """The key ring with Transit-wrapped data keys unwrapped, in memory only."""
    return vault.key_ring_spec(secret_str(name))
