"""A local server speaking the part of HashiCorp Vault's HTTP API the desk uses, for tests.

Endpoints: ``auth/approle/login``, ``auth/kubernetes/login``, ``auth/token/renew-self``, KV v2
``<mount>/data/<path>`` (GET), and Transit ``encrypt``, ``decrypt``, ``rewrap``, ``keys/<name>/rotate``
and ``datakey/{plaintext,wrapped}/<name>``. It behaves like Vault where a lax fake would hide bugs:
every call but the logins needs ``X-Vault-Token`` naming a live token (403 ``permission denied``
otherwise), tokens expire after their TTL and renew only up to their max TTL, a policy lists the
paths a token may use, wrong login credentials are 400 (AppRole) or 403 (Kubernetes), a missing
secret is 404 with an empty ``errors`` list, a sealed server answers 503 to everything, and Transit
really encrypts (AES-256-GCM per key version, ``vault:v<n>:`` prefix), so a ciphertext tampered with,
or under a version trimmed away, does not decrypt.
"""

import base64
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

Reply = tuple[int, dict[str, Any] | None]
DENIED: Reply = (403, {"errors": ["permission denied"]})


@dataclass
class Token:
    policies: frozenset[str]  # path prefixes this token may use
    ttl_s: int
    max_ttl_s: int
    issued: float
    expires: float


@dataclass
class TransitKey:
    versions: list[bytes] = field(default_factory=lambda: [os.urandom(32)])
    min_decryption_version: int = 1


@dataclass
class FakeVault:
    url: str = ""
    approle: dict[str, str] = field(default_factory=dict)  # role_id -> secret_id
    kubernetes: dict[str, str] = field(default_factory=dict)  # role -> the service account JWT it accepts
    kv: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<mount>/<path>" -> data
    transit: dict[str, TransitKey] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    policies: frozenset[str] = frozenset({"secret/data/desk", "transit/"})
    token_ttl_s: int = 3600
    token_max_ttl_s: int = 7200
    sealed: bool = False
    calls: list[str] = field(default_factory=list)  # "METHOD /v1/path", in order
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what the tests tell the fake ---------------------------------------------------------------
    def transit_key(self, name: str) -> None:
        self.transit.setdefault(name, TransitKey())

    def expire_tokens(self) -> None:
        for token in self.tokens.values():
            token.expires = 0.0

    # --- the API -----------------------------------------------------------------------------------
    def handle(self, method: str, path: str, token: str, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.calls.append(f"{method} {path}")
            if self.sealed:
                return 503, {"errors": ["Vault is sealed"]}
            if not path.startswith("/v1/"):
                return 404, {"errors": []}
            route = path[len("/v1/") :]
            if method == "POST" and route == "auth/approle/login":
                if not body.get("role_id") or self.approle.get(body["role_id"]) is None:
                    return 400, {"errors": ["invalid role or secret ID"]}
                if not secrets.compare_digest(self.approle[body["role_id"]], str(body.get("secret_id", ""))):
                    return 400, {"errors": ["invalid role or secret ID"]}
                return self._login()
            if method == "POST" and route == "auth/kubernetes/login":
                expected = self.kubernetes.get(str(body.get("role", "")))
                if expected is None:
                    return 400, {"errors": [f'invalid role name "{body.get("role")}"']}
                if not secrets.compare_digest(expected, str(body.get("jwt", ""))):
                    return 403, {"errors": ["permission denied"]}
                return self._login()
            live = self.tokens.get(token)
            if live is None or live.expires <= time.monotonic():
                return DENIED
            if method == "POST" and route == "auth/token/renew-self":
                return self._renew(token, live)
            if not any(route.startswith(prefix) for prefix in live.policies):
                return DENIED
            if method == "GET" and "/data/" in route:
                mount, _, secret_path = route.partition("/data/")
                data = self.kv.get(f"{mount}/{secret_path}")
                if data is None:
                    return 404, {"errors": []}
                return 200, {"data": {"data": data, "metadata": {"version": 1, "destroyed": False}}}
            if method == "POST" and route.startswith("transit/"):
                return self._transit(route[len("transit/") :], body)
            return 405, {"errors": [f"unsupported operation: {method} {route}"]}

    def _login(self) -> Reply:
        client_token = "hvs." + secrets.token_urlsafe(24)
        now = time.monotonic()
        self.tokens[client_token] = Token(
            self.policies, self.token_ttl_s, self.token_max_ttl_s, issued=now, expires=now + self.token_ttl_s
        )
        auth = {
            "client_token": client_token,
            "policies": sorted(self.policies),
            "lease_duration": self.token_ttl_s,
            "renewable": True,
        }
        return 200, {"auth": auth}

    def _renew(self, client_token: str, token: Token) -> Reply:
        now = time.monotonic()
        # Like Vault: never past the max TTL counted from issue; the lease shrinks as it nears it.
        token.expires = min(now + token.ttl_s, token.issued + token.max_ttl_s)
        lease = max(0, int(token.expires - now))
        auth = {"client_token": client_token, "lease_duration": lease, "renewable": lease > 0}
        return 200, {"auth": auth}

    def _transit(self, route: str, body: dict[str, Any]) -> Reply:
        action, _, name = route.partition("/")
        if action == "keys" and name.endswith("/rotate"):
            key = self.transit.get(name.removesuffix("/rotate"))
            if key is None:
                return 400, {"errors": ["key not found"]}
            key.versions.append(os.urandom(32))
            return 200, {"data": {"name": name.removesuffix("/rotate"), "latest_version": len(key.versions)}}
        if action == "datakey":
            kind, _, name = name.partition("/")
            if kind not in ("plaintext", "wrapped"):
                return 400, {"errors": [f"invalid type {kind!r}"]}
            key = self.transit.get(name)
            if key is None:
                return 400, {"errors": ["encryption key not found"]}
            plain = os.urandom(int(body.get("bits", 256)) // 8)
            data = {"ciphertext": self._seal(key, plain)}
            if kind == "plaintext":
                data["plaintext"] = base64.b64encode(plain).decode()
            return 200, {"data": data}
        key = self.transit.get(name)
        if key is None:
            return 400, {"errors": ["encryption key not found"]}
        try:
            if action == "encrypt":
                return 200, {"data": {"ciphertext": self._seal(key, base64.b64decode(body["plaintext"]))}}
            if action == "decrypt":
                return 200, {"data": {"plaintext": base64.b64encode(self._open(key, body["ciphertext"])).decode()}}
            if action == "rewrap":
                return 200, {"data": {"ciphertext": self._seal(key, self._open(key, body["ciphertext"]))}}
        except (KeyError, ValueError, InvalidTag):
            return 400, {"errors": ["invalid ciphertext: unable to decrypt"]}
        return 405, {"errors": [f"unsupported transit operation {action!r}"]}

    @staticmethod
    def _seal(key: TransitKey, plain: bytes) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(key.versions[-1]).encrypt(nonce, plain, None)
        return f"vault:v{len(key.versions)}:" + base64.b64encode(nonce + sealed).decode()

    @staticmethod
    def _open(key: TransitKey, ciphertext: str) -> bytes:
        prefix, version, payload = ciphertext.split(":", 2)
        number = int(version.removeprefix("v"))
        if prefix != "vault" or not key.min_decryption_version <= number <= len(key.versions):
            raise ValueError("unknown key version")
        blob = base64.b64decode(payload, validate=True)
        return AESGCM(key.versions[number - 1]).decrypt(blob[:12], blob[12:], None)


def serve(fake: FakeVault) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _dispatch(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = None
            path = self.path.partition("?")[0]
            status: int
            payload: dict[str, Any] | None
            if not isinstance(body, dict):
                status, payload = 400, {"errors": ["failed to parse JSON input"]}
            else:
                status, payload = fake.handle(method, path, self.headers.get("X-Vault-Token", ""), body)
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:  # Vault treats PUT as POST
            self._dispatch("POST")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
