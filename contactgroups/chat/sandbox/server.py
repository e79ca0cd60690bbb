"""The sandbox over HTTP: a keep-alive request handler, a threading server, and SandboxServer with its state file."""

import http
import http.server
import json
import os
import random
import socket
import socketserver
import sys
import threading
import time
import traceback
import urllib.parse
import urllib.request
from pathlib import Path

from contactgroups.chat import errors, protocol
from contactgroups.chat.sandbox.faults import DEFAULT_TIMEOUT_SECONDS
from contactgroups.chat.sandbox.parsing import error_body
from contactgroups.chat.sandbox.service import (
    ACTOR_APP,
    ACTOR_HEADER,
    API_PREFIX,
    CALL_LOG_MAX,
    Sandbox,
    json_reply,
    json_text,
)
from contactgroups.chat.sandbox.state import DEFAULT_PAGE_SIZE
from contactgroups.chat.usersig import generate_usersig

FLUSH_INTERVAL_SECONDS = 0.5
# An idle keep-alive connection is closed after this long, so its thread ends.
IDLE_CONNECTION_SECONDS = 120
# Padding (Faults.pad_bytes) is written this much at a time.
PAD_BLOCK_BYTES = 64 * 1024


class _Handler(http.server.BaseHTTPRequestHandler):
    """One keep-alive connection; every request goes to ``SandboxServer.respond``."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_CONNECTION_SECONDS
    server_version = "ChatSandbox"

    def setup(self):
        super().setup()
        self.server.sandbox._connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.sandbox._connections.discard(self.connection)

    def log_message(self, format, *args):
        """Stay silent: a line per request would cost more than serving it."""

    def parse_request(self):
        # The moment the request line was read: when Chat would count the call's arrival.
        self.arrived = self.server.sandbox.clock()
        return super().parse_request()

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        sandbox = self.server.sandbox
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            reply = sandbox.respond(method, self.path, raw, self.headers.get(ACTOR_HEADER, ""), self.headers,
                                    arrived=self.arrived)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            reply = json_reply(error_body("", errors.INTERNAL_ERROR, "sandbox internal error"),
                               http.HTTPStatus.INTERNAL_SERVER_ERROR)
        if reply.wait > 0:
            sandbox._stopping.wait(reply.wait)
        if reply.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        faults = sandbox._faults
        path = urllib.parse.urlsplit(self.path).path
        shaped = path.startswith(API_PREFIX) and faults.shapes_answer(
            path[len(API_PREFIX):], self.headers.get(ACTOR_HEADER, "") == ACTOR_APP)
        body = reply.body
        if shaped and faults.pad_bytes:
            # JSON allows white space after the document: the answer stays valid, only longer. Sent without a
            # length, until the connection closes, as a gateway streaming an answer does.
            self.close_connection = True
        head = (
            f"HTTP/1.1 {int(reply.status)} {http.HTTPStatus(reply.status).phrase}\r\n"
            f"Server: {self.server_version}\r\n"
            f"Content-Type: {reply.content_type}\r\n"
        )
        if not (shaped and faults.pad_bytes):
            head += f"Content-Length: {len(body)}\r\n"
        if self.close_connection:
            head += "Connection: close\r\n"
        if not shaped:
            self.wfile.write(head.encode("latin-1") + b"\r\n" + body)
            return
        head = head.encode("latin-1") + b"\r\n"
        if faults.drip_headers_bytes_per_second:
            if not self._drip(head, 0, faults.drip_headers_bytes_per_second):
                return
        else:
            self.wfile.write(head)
        self._write_shaped(body, faults.pad_bytes, faults.drip_bytes_per_second)

    def _drip(self, data: bytes, pad_bytes: int, bytes_per_second: float) -> bool:
        """Write ``data`` and ``pad_bytes`` spaces after it a byte at a time, ``bytes_per_second``; False if the
        sandbox stopped first (a client that goes away makes the write fail, and the connection ends)."""
        stopping = self.server.sandbox._stopping
        interval = 1 / bytes_per_second
        for index in range(len(data) + pad_bytes):
            if stopping.wait(interval):
                return False
            self.wfile.write(data[index:index + 1] or b" ")
        return True

    def _write_shaped(self, body: bytes, pad_bytes: int, drip_bytes_per_second: float) -> None:
        """Write ``body`` and ``pad_bytes`` spaces after it, at ``drip_bytes_per_second`` (0: at once), until done,
        the sandbox stops or the client goes away (the write then fails and the connection ends)."""
        stopping = self.server.sandbox._stopping
        if drip_bytes_per_second:
            self._drip(body, pad_bytes, drip_bytes_per_second)
            return
        self.wfile.write(body)
        block = b" " * PAD_BLOCK_BYTES
        left = pad_bytes
        while left > 0 and not stopping.is_set():
            self.wfile.write(block[:left])
            left -= PAD_BLOCK_BYTES


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, sandbox: "SandboxServer"):
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def server_bind(self):
        """Bind without the reverse DNS lookup HTTPServer does for its name."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        """Ignore clients that went away; report anything else."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class SandboxServer(Sandbox):
    """The sandbox over HTTP: ``SandboxServer(...).start()`` serves in a background thread until ``stop()``.

    ``base_url`` is where it listens, ``post()`` calls it as the end user's app would, ``set_faults()``,
    ``clear_faults()``, ``reset()``, ``calls`` and ``snapshot()`` do in-process what the control endpoints do.
    With a ``state_path`` the state is written there at most every FLUSH_INTERVAL_SECONDS and on ``stop()``.
    ``stop_listening()`` and ``start_listening()`` take the port down and bring it back, all else kept (Chat out of
    reach for a while).
    """

    def __init__(
        self,
        sdkappid: int,
        secret_key: str,
        admin_identifier: str,
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: str | os.PathLike | None = None,
        latency_ms: float = 0,
        fail_rate: float = 0.0,
        fail_codes=(),
        rate_limit: int = 0,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        calls_max: int = CALL_LOG_MAX,
        allowed_hosts=(),
        control_token: str | None = None,
        clock=time.monotonic,
    ):
        own_host = () if host in ("", "0.0.0.0", "::") else (f"[{host}]" if ":" in host else host,)
        super().__init__(
            sdkappid, secret_key, admin_identifier, latency_ms=latency_ms, fail_rate=fail_rate,
            fail_codes=fail_codes, rate_limit=rate_limit, page_size=page_size, timeout_seconds=timeout_seconds,
            calls_max=calls_max, allowed_hosts=(*own_host, *allowed_hosts), control_token=control_token,
            clock=clock,
        )
        self.host = host
        self.port = port
        self.state_path = Path(state_path) if state_path else None
        self._save_lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._serving: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._life_lock = threading.RLock()
        self._started = False
        self._admin_usersig = generate_usersig(self.sdkappid, secret_key, admin_identifier)

    # Life cycle

    def start(self) -> "SandboxServer":
        """Load the state file (if any), listen and serve in background threads."""
        with self._life_lock:
            if self._started:
                raise RuntimeError("the sandbox is already started")
            if self.state_path and self.state_path.exists():
                self._state.load(json.loads(self.state_path.read_text(encoding="utf-8")))
            self._stopping.clear()
            self._listen()
            self._started = True
            self._threads = []
            if self.state_path:
                self._threads.append(threading.Thread(target=self._flush_loop, name="chat-sandbox-flush",
                                                      daemon=True))
            for thread in self._threads:
                thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and save the state. Safe to call twice."""
        with self._life_lock:
            if not self._started:
                return
            self._stopping.set()
            self._unlisten()
            for thread in self._threads:
                thread.join()
            self._started = False
        self.save()

    def stop_listening(self) -> bool:
        """Close the listening socket and every open connection, as Chat out of reach: a connection is refused
        until ``start_listening()``. The state, the faults and the call log stay. False if it was not listening."""
        with self._life_lock:
            if not self._started or self._httpd is None:
                return False
            self._unlisten()
            return True

    def start_listening(self) -> bool:
        """Listen again on the same address and port after ``stop_listening()``; False if it was listening.
        OSError if the port cannot be had (another process took it meanwhile)."""
        with self._life_lock:
            if not self._started:
                raise RuntimeError("the sandbox is not started")
            if self._httpd is not None:
                return False
            self._listen()
            return True

    @property
    def listening(self) -> bool:
        return self._httpd is not None

    def _listen(self) -> None:
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._serving = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                         name="chat-sandbox", daemon=True)
        self._serving.start()

    def _unlisten(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        for connection in list(self._connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._serving.join()

    def __enter__(self) -> "SandboxServer":
        return self if self._started else self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # Persistence

    def save(self) -> None:
        """Write the state file now (temporary file, then rename), if there is one."""
        if not self.state_path:
            return
        with self._save_lock:
            with self._lock:
                document = self._state.snapshot()
                self._dirty = False
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.state_path.with_name(f".{self.state_path.name}.{os.getpid()}.tmp")
            with open(temporary, "w", encoding="utf-8") as stream:
                stream.write(json_text(document))
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.state_path)

    def _flush_loop(self) -> None:
        while not self._stopping.wait(FLUSH_INTERVAL_SECONDS):
            if self._dirty:
                self.save()

    # Calling it

    def signed_url(self, endpoint: str, identifier: str | None = None, usersig: str | None = None,
                   sdkappid: int | str | None = None) -> str:
        """The URL of ``endpoint`` with the admin's (or the given) credentials in the query string."""
        query = urllib.parse.urlencode({
            "sdkappid": self.sdkappid if sdkappid is None else sdkappid,
            "identifier": self.admin_identifier if identifier is None else identifier,
            "usersig": self._admin_usersig if usersig is None else usersig,
            "random": random.randint(0, 2**32 - 1),
            "contenttype": "json",
        }, safe="*")
        return f"{self.base_url}{API_PREFIX}{endpoint}?{query}"

    def post(self, endpoint: str, body, actor: str = ACTOR_APP, timeout: float = 10.0) -> dict:
        """Send ``body`` to ``endpoint`` over HTTP as the admin and return Chat's parsed answer.

        By default the call is marked as the end user's app (exempt from faults and not a client call).
        """
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        request = urllib.request.Request(
            self.signed_url(endpoint), data=data, method="POST",
            headers={"Content-Type": "application/json", ACTOR_HEADER: actor},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=timeout) as response:
            return json.loads(response.read())

    def import_accounts(self, *user_ids: str) -> dict:
        """Import ``user_ids`` into the sandbox as the app would before using them."""
        return self.post(protocol.MULTIACCOUNT_IMPORT, {"Accounts": list(user_ids)})
