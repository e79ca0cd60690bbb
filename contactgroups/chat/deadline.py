"""The deadline of an HTTP attempt to Chat, kept by its socket: requests' session whose every wait ends by it.

requests and http.client bound a connection's waits only one at a time, so a server that sends the status line or
the headers a byte at a time could hold the caller for as long as it likes. The connections of ``chat_session()``
(``DeadlineAdapter``) wrap their socket, after TLS, so that each wait on it (sending the request, receiving the
status line, the headers or the body) is bounded by the time left to the deadline of the attempt this thread is
making (``attempt_ending_at``); past it, ``Late``. Connections are pooled and kept alive as requests' own.
"""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool

# The deadline (monotonic) of the HTTP attempt this thread is making, read by every wait on its socket.
_attempt = threading.local()


class Late(Exception):
    """The attempt's deadline passed before Chat's answer (its status line, headers or body) had all come."""


@contextmanager
def attempt_ending_at(deadline: float) -> Iterator[None]:
    """Every wait on a ``chat_session()`` socket this thread makes in the block ends by ``deadline`` (monotonic)."""
    _attempt.deadline = deadline
    try:
        yield
    finally:
        _attempt.deadline = None


class _DeadlineSocket:
    """A connected socket, TLS already wrapped, whose every wait (receiving the status line, the headers or the body,
    sending the request) ends by the deadline of the attempt this thread is making: past it, Late. Every other
    use is the socket's own. ``makefile`` is the socket's, made over this object, so http.client's reads come here.
    """

    def __init__(self, sock):
        self._sock = sock
        self._timeout = sock.gettimeout()  # the timeout the connection set; each wait is at most this

    def __getattr__(self, name):
        return getattr(self._sock, name)

    makefile = socket.socket.makefile

    @property
    def _io_refs(self) -> int:  # makefile counts its files on the socket itself
        return self._sock._io_refs

    @_io_refs.setter
    def _io_refs(self, value: int) -> None:
        self._sock._io_refs = value

    def settimeout(self, value) -> None:
        self._timeout = value
        self._sock.settimeout(value)

    def gettimeout(self):
        return self._timeout

    def _wait(self, operation, *args):
        until = getattr(_attempt, "deadline", None)
        if until is None:
            self._sock.settimeout(self._timeout)
            return operation(*args)
        left = until - time.monotonic()
        if left <= 0:
            raise Late()
        bounded = self._timeout is None or left < self._timeout
        self._sock.settimeout(left if bounded else self._timeout)
        try:
            return operation(*args)
        except TimeoutError:
            if bounded:
                raise Late() from None
            raise

    def recv_into(self, *args):
        return self._wait(self._sock.recv_into, *args)

    def recv(self, *args):
        return self._wait(self._sock.recv, *args)

    def sendall(self, *args):
        return self._wait(self._sock.sendall, *args)


class _HTTPConnection(urllib3.connection.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock)


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock)  # after the TLS wrap: the waits are for decrypted data


class _HTTPConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSConnectionPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections end every wait on the socket by the attempt's deadline, the status line
    and headers included: requests and http.client bound them only per wait, so headers sent a byte at a time
    could hold the caller without it. Pooled and kept alive as requests' own (a SOCKS proxy's excepted)."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # a SOCKS manager has pools of its own
            manager.pool_classes_by_scheme = _POOLS
        return manager


def chat_session(api_base: str) -> requests.Session:
    """A requests session for Chat calls to ``api_base``: its connections keep each attempt's deadline
    (``DeadlineAdapter``), and it takes the proxies and CA bundle from the environment once, here, as requests
    would for each call (reading the whole environment every time costs a call more CPU than its own HTTP)."""
    session = requests.Session()
    adapter = DeadlineAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    environment = session.merge_environment_settings(api_base, {}, None, None, None)
    session.proxies, session.verify = environment["proxies"], environment["verify"]
    session.trust_env = False
    return session
