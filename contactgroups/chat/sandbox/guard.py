"""Who may drive the control endpoints: same-origin requests to a known Host, with the token when one is set."""

import hmac
import urllib.parse
from collections.abc import Iterable, Mapping

TOKEN_HEADER = "X-Sandbox-Token"
# Names that always reach the sandbox on this machine; with the sandbox's own port only.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Sec-Fetch-Site values a browser sends for a request the sandbox's own pages or the address bar made.
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``(host, port)`` of a Host header value (IPv6 in brackets), or None when it cannot be read."""
    try:
        parts = urllib.parse.urlsplit(f"//{value.strip()}")
        return (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None


class ControlGuard:
    """Decides whether a request may use ``/__sandbox__/*``.

    A browser page on another site can send requests to the sandbox (a cross-origin ``fetch``), and a DNS name
    that rebinds to 127.0.0.1 can even read the answers. So the guard accepts a request only when its ``Host``
    is a loopback name with the sandbox's port or one of ``allowed_hosts`` (``name`` for any port, or
    ``name:port``), when ``Origin`` (if sent) is that same host and ``Sec-Fetch-Site`` (if sent) says the
    request did not come from another site, and, when ``token`` is set, when the request carries it in the
    ``X-Sandbox-Token`` header or as ``Authorization: Bearer``.
    """

    def __init__(self, allowed_hosts: Iterable[str] = (), token: str | None = None):
        self.allowed_hosts = frozenset(host.strip().lower() for host in allowed_hosts if host.strip())
        self.token = token or None

    def _known_host(self, value: str, port: int | None) -> bool:
        split = _split_host(value)
        if split is None or not split[0]:
            return False
        host, given_port = split
        if host in LOOPBACK_HOSTS:
            return port is not None and given_port == port
        named = f"[{host}]" if ":" in host else host
        return bool({host, named} & self.allowed_hosts) or (
            given_port is not None and f"{named}:{given_port}" in self.allowed_hosts
        )

    def refusal(self, headers: Mapping[str, str], port: int | None) -> tuple[int, str] | None:
        """None when the request may go on, else the HTTP status and the reason to answer."""
        host = headers.get("Host") or ""
        if not self._known_host(host, port):
            return 403, f"the control endpoints do not answer for Host {host!r}"
        origin = headers.get("Origin")
        if origin is not None:
            parts = urllib.parse.urlsplit(origin)
            if parts.scheme not in ("http", "https") or not self._known_host(parts.netloc, port):
                return 403, f"the control endpoints refuse requests from another origin ({origin})"
        fetch_site = headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site.lower() not in SAME_SITE_FETCHES:
            return 403, f"the control endpoints refuse {fetch_site} requests"
        if self.token:
            given = headers.get(TOKEN_HEADER) or ""
            authorization = headers.get("Authorization") or ""
            if not given and authorization.lower().startswith("bearer "):
                given = authorization[len("bearer "):].strip()
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return 401, f"the control endpoints need the sandbox's token in the {TOKEN_HEADER} header"
        return None
