"""How a Chat client's requests travel: through the proxy the environment names when the client is made
(``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``), as requests would on each call, without reading the environment on
each call; and never on to where a redirect points.

The proxy is a small HTTP server on loopback that records each request line and answers for Chat itself; Chat's
host here (``chat.invalid``) does not resolve, so a call that does not go through the proxy cannot succeed. Asked
with ``redirect`` set, it answers every request with that redirect instead.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from contactgroups.chat import errors, protocol
from contactgroups.chat.config import ChatConfig
from contactgroups.chat.transport import Transport

CHAT = "http://chat.invalid"
ANSWER = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "ContactItem": [], "GroupItem": [],
          "CompleteFlag": 1, "NextStartIndex": 0}


@pytest.fixture
def proxy():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        redirect = None

        def do_GET(self):
            seen.append(self.requestline)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.requestline)
            if Handler.redirect:
                self.send_response(Handler.redirect[0])
                self.send_header("Location", Handler.redirect[1])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps(ANSWER).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        def redirect_with(status, location):
            Handler.redirect = (status, location)

        yield f"http://127.0.0.1:{server.server_address[1]}", seen, redirect_with
    finally:
        server.shutdown()
        server.server_close()


def transport(on_call=None) -> Transport:
    config = ChatConfig(1400000000, "proxy-test-secret-key", "administrator", base_url=CHAT, connect_timeout=2,
                        read_timeout=2, deadline=5, max_retries=0)
    return Transport(config, on_call=on_call)


def read_groups(chat: Transport) -> dict:
    return chat.call(protocol.GET_CONTACT_GROUP, {"From_Account": "owner_proxy", "StartIndex": 0})


def test_calls_go_through_the_proxy_the_environment_named_when_the_client_was_made(proxy, monkeypatch):
    url, seen, _redirect_with = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    chat = transport()
    monkeypatch.delenv("HTTP_PROXY")  # read once, when the client was made

    assert read_groups(chat)["ErrorCode"] == 0
    assert read_groups(chat)["ErrorCode"] == 0

    assert len(seen) == 2
    for line in seen:
        assert line.startswith(f"POST {CHAT}/v4/{protocol.GET_CONTACT_GROUP}?sdkappid=1400000000&")
    chat.close()


def test_a_host_no_proxy_names_is_called_directly(proxy, monkeypatch):
    url, seen, _redirect_with = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "chat.invalid")
    chat = transport()

    with pytest.raises(errors.ChatConnectError):
        read_groups(chat)
    assert seen == []
    chat.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failed_call_and_is_not_followed(proxy, monkeypatch, status):
    url, seen, redirect_with = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    redirect_with(status, "http://elsewhere.invalid/v4/recentcontact/get_contact_group")
    records = []
    chat = transport(on_call=records.append)

    with pytest.raises(errors.ChatAnswerError) as raised:
        read_groups(chat)

    assert str(raised.value) == f"Chat answered {protocol.GET_CONTACT_GROUP} with HTTP {status} and no JSON."
    [record] = records  # what the audit keeps of the attempt: its HTTP status, and no answer
    assert (record.http_status, record.response) == (status, None)
    assert len(seen) == 1 and seen[0].startswith(f"POST {CHAT}/v4/")  # nothing sent where the redirect pointed
    chat.close()
