"""The sandbox's control endpoints refuse other sites, foreign Host names and, when a token is set, requests without it.

Browsers send ``Origin`` and ``Sec-Fetch-Site`` on cross-site requests (Fetch standard, https://fetch.spec.whatwg.org/
and https://www.w3.org/TR/fetch-metadata/); a DNS rebinding attack reaches 127.0.0.1 under a foreign ``Host``.
"""

import pytest
import requests

from contactgroups.chat.sandbox.guard import TOKEN_HEADER


def control(sandbox, method="GET", name="state", **headers) -> requests.Response:
    return requests.request(method, f"{sandbox.base_url}/__sandbox__/{name}", headers=headers, timeout=5)


def test_a_loopback_request_with_the_sandboxs_port_is_served(sandbox):
    for host in (f"127.0.0.1:{sandbox.port}", f"localhost:{sandbox.port}", f"[::1]:{sandbox.port}"):
        assert control(sandbox, Host=host).status_code == 200, host


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost", ""])
def test_a_foreign_host_header_is_refused(sandbox, host):
    response = control(sandbox, Host=host.format(port=sandbox.port))

    assert response.status_code == 403
    assert "Host" in response.json()["error"]


def test_a_configured_host_is_served(make_sandbox):
    sandbox = make_sandbox(allowed_hosts=["sandbox.internal"])

    assert control(sandbox, Host="sandbox.internal:8081").status_code == 200


def test_a_cross_origin_request_cannot_reset_the_state_or_set_faults(sandbox):
    sandbox.import_accounts("user_0001")

    reset = control(sandbox, "POST", "reset", Origin="https://evil.example")
    faults = requests.post(f"{sandbox.base_url}/__sandbox__/faults", json={"fail_rate": 1.0}, timeout=5,
                           headers={"Sec-Fetch-Site": "cross-site"})

    assert (reset.status_code, faults.status_code) == (403, 403)
    assert "user_0001" in sandbox.snapshot()["accounts"]
    assert sandbox.faults["fail_rate"] == 0.0


def test_a_same_origin_or_typed_in_request_is_served(sandbox):
    origin = f"http://127.0.0.1:{sandbox.port}"

    assert control(sandbox, Origin=origin, **{"Sec-Fetch-Site": "same-origin"}).status_code == 200
    assert control(sandbox, **{"Sec-Fetch-Site": "none"}).status_code == 200
    assert control(sandbox, **{"Sec-Fetch-Site": "same-site"}).status_code == 403


def test_with_a_token_set_the_control_endpoints_need_it(make_sandbox):
    sandbox = make_sandbox(control_token="s3cret")

    assert control(sandbox).status_code == 401
    assert control(sandbox, **{TOKEN_HEADER: "wrong"}).status_code == 401
    assert control(sandbox, **{TOKEN_HEADER: "s3cret"}).status_code == 200
    assert control(sandbox, Authorization="Bearer s3cret").status_code == 200


def test_the_chat_api_itself_is_not_behind_the_token(make_sandbox):
    sandbox = make_sandbox(control_token="s3cret")

    assert sandbox.import_accounts("user_0001")["ErrorCode"] == 0
