"""A Chat call over HTTPS ends by its deadline too: the deadline's socket wraps the TLS socket, so its waits are for
decrypted data, and an answer whose headers or body arrive a byte at a time cannot hold the caller.

Chat is played here by a small TLS server on loopback (the sandbox serves plain HTTP) with a self-signed
certificate made for the test by ``openssl``, trusted through ``REQUESTS_CA_BUNDLE`` as an operator's own CA
would be. It answers at once (the control: the answer is read over TLS and its ErrorCode raised), or drips the
status line and headers, or the body, a byte every 0.2 s. Each bound is many times the deadline and the drip many
times the bound, so a slow machine cannot fail the test nor a broken deadline pass it.
"""

import json
import socket
import ssl
import subprocess
import threading
import time

import pytest

from contactgroups.chat import errors
from contactgroups.chat.client import ChatClient
from contactgroups.chat.config import ChatConfig

DEADLINE = 0.4
BOUND = 10 * DEADLINE
DRIP_INTERVAL = 0.2
OWNER = "owner_tls"
FAILED_ANSWER = json.dumps({"ActionStatus": "FAIL", "ErrorCode": 90001, "ErrorInfo": "json format error"}).encode()
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


class TLSChat:
    """One-connection-at-a-time TLS server: reads a request, then answers it as ``mode`` says."""

    def __init__(self, certificate, mode: str):
        self.mode = mode
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(*map(str, certificate))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.handled = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.listener.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                raw, _address = self.listener.accept()
            except TimeoutError:
                continue
            try:
                with self.context.wrap_socket(raw, server_side=True) as connection:
                    connection.settimeout(5)
                    self._answer(connection)
            except (OSError, ssl.SSLError):
                pass  # the client gave up and closed the connection: what the dripping tests expect

    def _read_request(self, connection) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(4096)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += connection.recv(4096)

    def _drip(self, connection, data: bytes) -> None:
        for byte in data:
            if self.stopping.is_set():
                return
            connection.sendall(bytes([byte]))
            time.sleep(DRIP_INTERVAL)

    def _answer(self, connection) -> None:
        self._read_request(connection)
        self.handled += 1
        head = HEAD % len(FAILED_ANSWER)
        if self.mode == "prompt":
            connection.sendall(head + FAILED_ANSWER)
        elif self.mode == "drip_headers":
            self._drip(connection, head + FAILED_ANSWER)
        elif self.mode == "drip_body":
            connection.sendall(head)
            self._drip(connection, FAILED_ANSWER)

    def close(self):
        self.stopping.set()
        self.thread.join(timeout=10)
        self.listener.close()


@pytest.fixture
def tls_chat(certificate, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    servers = []

    def start(mode: str) -> ChatClient:
        server = TLSChat(certificate, mode)
        servers.append(server)
        config = ChatConfig(1400000000, "0" * 32, "administrator", base_url=f"https://127.0.0.1:{server.port}",
                            deadline=DEADLINE, read_timeout=60, max_retries=0)
        return ChatClient(config)

    yield start
    for server in servers:
        server.close()


def timed(call):
    began = time.monotonic()
    with pytest.raises(errors.ChatError) as caught:
        call()
    return caught.value, time.monotonic() - began


def test_an_answer_over_tls_is_read_and_its_error_raised(tls_chat):
    client = tls_chat("prompt")

    error, _elapsed = timed(lambda: client.get_contact_group(OWNER))

    assert not isinstance(error, errors.ChatTooSlowError)
    assert error.code == 90001


@pytest.mark.parametrize("mode, dripped", [("drip_headers", len(HEAD % len(FAILED_ANSWER)) + len(FAILED_ANSWER)),
                                           ("drip_body", len(FAILED_ANSWER))])
def test_an_answer_dripped_over_tls_ends_at_the_calls_deadline(tls_chat, mode, dripped):
    client = tls_chat(mode)

    error, elapsed = timed(lambda: client.get_contact_group(OWNER))

    assert isinstance(error, errors.ChatTooSlowError)
    assert error.seconds == DEADLINE
    # Each byte arrives well within the deadline, so only a deadline on the whole answer ends the call this soon.
    assert DRIP_INTERVAL < DEADLINE
    assert elapsed < BOUND < dripped * DRIP_INTERVAL / 3
