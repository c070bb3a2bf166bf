"""Container liveness probe: GET /healthz on the local web process, exit 0 only on a 200.

Standard library only and no Django import, so it costs a few milliseconds. It speaks to the
app as a TLS-terminating proxy would: production settings redirect plain HTTP to HTTPS and
refuse Host headers outside DJANGO_ALLOWED_HOSTS, and a probe must pass both.
"""

import http.client
import os
import sys


def probe_host(allowed_hosts: str) -> str:
    """A Host header the app accepts: the first allowed host, made concrete if it is a pattern."""
    for entry in (item.strip() for item in allowed_hosts.split(",")):
        if not entry or entry == "*":
            continue
        # ".example.com" allows every subdomain; any concrete one will do.
        return f"healthz{entry}" if entry.startswith(".") else entry
    return "localhost"


def main() -> int:
    port = int(os.environ.get("DESK_PORT", "8000"))
    host = probe_host(os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost"))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        connection.request("GET", "/healthz", headers={"Host": host, "X-Forwarded-Proto": "https"})
        status = connection.getresponse().status
    except OSError as exc:
        print(f"healthz unreachable: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"healthz answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
