"""The sandbox without sockets: it answers one HTTP request, to Chat's REST API or to a control endpoint."""

import http
import json
import random
import re
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from contactgroups.chat import errors, protocol
from contactgroups.chat.sandbox.faults import (
    DEFAULT_TIMEOUT_SECONDS,
    FAULT_DROP,
    FAULT_FAIL,
    FAULT_HTTP_ERROR,
    FAULT_TIMEOUT,
    Faults,
)
from contactgroups.chat.sandbox.guard import ControlGuard
from contactgroups.chat.sandbox.limiter import WindowLimiter
from contactgroups.chat.sandbox.parsing import Refusal, error_body
from contactgroups.chat.sandbox.state import DEFAULT_PAGE_SIZE, ChatState
from contactgroups.chat.usersig import UserSigError, verify_usersig

CALL_LOG_MAX = 10_000
# Distinct verified UserSigs remembered, so the HMAC and zlib work is done once per UserSig.
USERSIG_CACHE_MAX = 1024

API_PREFIX = "/v4/"
CONTROL_PREFIX = "/__sandbox__/"
ACTOR_HEADER = "X-Sandbox-Actor"
ACTOR_CLIENT = "client"
ACTOR_APP = "app"

# What Chat answers for each way a UserSig fails to verify ("REST API 公共错误码", account codes:
# https://cloud.tencent.com/document/product/269/1671).
USERSIG_CODES = {
    UserSigError.BAD_ENCODING: errors.USERSIG_INVALID,
    UserSigError.BAD_SIGNATURE: errors.USERSIG_OTHER_KEY,
    UserSigError.IDENTIFIER_MISMATCH: errors.USERSIG_OTHER_IDENTIFIER,
    UserSigError.SDKAPPID_MISMATCH: errors.USERSIG_OTHER_SDKAPPID,
    UserSigError.EXPIRED: errors.USERSIG_EXPIRED,
}


@dataclass
class Reply:
    """What the handler sends after waiting ``wait`` seconds: a status and body, or nothing (``drop``)."""

    status: int = http.HTTPStatus.OK
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    wait: float = 0.0
    drop: bool = False


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(document) -> str:
    """``document`` as JSON text that encodes in UTF-8: a lone surrogate (a name sent as ``\\ud800``) is written
    escaped, as Chat does, and so is everything else of that document."""
    text = json.dumps(document, ensure_ascii=False)
    return json.dumps(document) if LONE_SURROGATE.search(text) else text


def json_reply(document, status: int = http.HTTPStatus.OK, wait: float = 0.0) -> Reply:
    return Reply(status, json_text(document).encode("utf-8"), wait=wait)


BAD_GATEWAY_BODY = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


class Sandbox:
    """Chat for one app, answering requests one at a time under one lock; SandboxServer serves it over HTTP.

    ``set_faults()``, ``clear_faults()``, ``reset()``, ``calls`` and ``snapshot()`` do in-process what the control
    endpoints do.
    """

    def __init__(
        self,
        sdkappid: int,
        secret_key: str,
        admin_identifier: str,
        latency_ms: float = 0,
        fail_rate: float = 0.0,
        fail_codes=(),
        rate_limit: int = 0,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        calls_max: int = CALL_LOG_MAX,
        allowed_hosts=(),
        control_token: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.sdkappid = int(sdkappid)
        # The clock the rate limit counts calls on (seconds; SandboxServer's handler reads it as a call arrives).
        self.clock = clock
        # The port it listens on (SandboxServer sets it); the control endpoints answer only for Hosts with it.
        self.port: int | None = None
        self._guard = ControlGuard(allowed_hosts, control_token)
        self.secret_key = secret_key
        self.admin_identifier = admin_identifier
        self._state = ChatState(admin_identifier, page_size)
        self._faults = Faults().updated({
            "latency_ms": latency_ms, "fail_rate": fail_rate, "fail_codes": list(fail_codes),
            "rate_limit": rate_limit, "timeout_seconds": timeout_seconds,
        })
        self._faults_left: int | None = None
        self._faults_injected = 0
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._calls: deque[dict] = deque(maxlen=calls_max)
        self._seq = 0
        self._limiter = WindowLimiter(clock)
        self._usersigs: dict[tuple[str, str], int] = {}
        self._dirty = False

    # In-process control

    def set_faults(self, **changes) -> dict:
        """Change the fault fields given (docs/sandbox.md lists them); answer all settings."""
        with self._lock:
            self._faults = self._faults.updated(changes)
            if "seed" in changes:
                self._rng.seed(changes["seed"])
            if "max_faults" in changes:
                self._faults_left = changes["max_faults"]
            return self._faults_document()

    def clear_faults(self) -> dict:
        """No faults, no latency, no rate limit."""
        with self._lock:
            self._faults = Faults(timeout_seconds=self._faults.timeout_seconds)
            self._faults_left = None
            return self._faults_document()

    @property
    def faults(self) -> dict:
        with self._lock:
            return self._faults_document()

    def _faults_document(self) -> dict:
        return {**self._faults.as_dict(), "faults_left": self._faults_left, "faults_injected": self._faults_injected}

    def reset(self) -> None:
        """Forget all accounts, groups, marks and sessions, and the call log."""
        with self._lock:
            self._state.clear()
            self._calls.clear()
            self._limiter.clear()
            self._dirty = True

    @property
    def calls(self) -> list[dict]:
        """Every call received so far (up to ``calls_max``, oldest first)."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, endpoint: str | None = None, actor: str | None = ACTOR_CLIENT) -> list[dict]:
        """The calls to ``endpoint`` (any, if None) from ``actor`` (any, if None)."""
        return [
            call for call in self.calls
            if (endpoint is None or call["endpoint"] == endpoint) and (actor is None or call["actor"] == actor)
        ]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def seed_conversations(self, owner: str, items: list) -> int:
        """Put conversations with messages in ``owner``'s conversation list, as get_list answers them.

        ``items`` are SessionItem entries of get_list (``Type``, ``To_Account`` or ``GroupId``, ``MsgTime``, and
        ``TopFlag`` 1 for a pinned one); an entry for a conversation already listed sets its ``MsgTime`` and
        ``TopFlag``. ValueError names the first bad entry.
        """
        with self._lock:
            count = self._state.seed_conversations(owner, items)
            self._dirty = True
            return count

    def snapshot(self) -> dict:
        """The whole state, as ``GET /__sandbox__/state`` shows it."""
        with self._lock:
            return self._state.snapshot()

    def load(self, document: dict) -> None:
        """Replace the whole state with a document ``snapshot`` made (the state file's content)."""
        with self._lock:
            self._state.load(document)
            self._dirty = True

    # Answering

    def respond(self, method: str, target: str, raw: bytes, actor: str = "", headers=None,
                arrived: float | None = None) -> "Reply":
        """The reply to one HTTP request (called from the handler threads); ``headers`` are the request's, and
        ``arrived`` the ``clock()`` reading at which its request line was read (the rate limit counts a call
        then, as Chat counts it when it arrives, not once this busy process has parsed it)."""
        parts = urllib.parse.urlsplit(target)
        if parts.path.startswith(CONTROL_PREFIX):
            refused = self._guard.refusal(headers or {}, self.port)
            if refused:
                return json_reply({"error": refused[1]}, refused[0])
            return self._control(method, parts.path[len(CONTROL_PREFIX):].strip("/"), parts.query, raw)
        return self._api(method, parts.path, parts.query, raw, actor or ACTOR_CLIENT, arrived)

    def _authenticate(self, query: dict) -> Refusal | None:
        sdkappid = query.get("sdkappid")
        if not sdkappid:
            return Refusal(errors.SDKAPPID_MISSING, "the URL has no sdkappid")
        if sdkappid != str(self.sdkappid):
            return Refusal(errors.SDKAPPID_INVALID, f"sdkappid {sdkappid} is not this app")
        identifier = query.get("identifier", "")
        usersig = query.get("usersig", "")
        if not usersig:
            return Refusal(errors.USERSIG_INVALID, "the URL has no usersig")
        expires_at = self._usersigs.get((usersig, identifier))
        if expires_at is None:
            try:
                info = verify_usersig(usersig, self.sdkappid, self.secret_key, identifier)
            except UserSigError as exc:
                return Refusal(USERSIG_CODES.get(exc.reason, errors.USERSIG_INVALID), str(exc))
            if len(self._usersigs) >= USERSIG_CACHE_MAX:
                self._usersigs.clear()
            expires_at = self._usersigs[(usersig, identifier)] = info.expires_at
        if time.time() > expires_at:
            return Refusal(errors.USERSIG_EXPIRED, "The UserSig has expired.")
        if identifier != self.admin_identifier:
            return Refusal(errors.ADMIN_REQUIRED, f"identifier {identifier} is not the app administrator")
        return None

    def _api(self, method: str, path: str, query_text: str, raw: bytes, actor: str,
             arrived: float | None = None) -> Reply:
        """Chat's checks (path, SDKAppID, UserSig, administrator, JSON body), the rate limit, an injected fault,
        then ChatState; every call is logged.
        """
        endpoint = path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path.lstrip("/")
        query = {name: values[0] for name, values in urllib.parse.parse_qs(query_text, keep_blank_values=True).items()}
        body = None
        if method != "POST" or endpoint not in protocol.ENDPOINTS:
            refusal = Refusal(errors.UNKNOWN_RESOURCE, f"{method} {path} is not a Chat REST API")
        else:
            refusal = self._authenticate(query)
        if refusal is None:
            try:
                body = json.loads(raw)
            except ValueError:
                refusal = Refusal(errors.BAD_JSON_BODY, "the body is not valid JSON")
            else:
                if not isinstance(body, dict):
                    refusal = Refusal(errors.BAD_JSON_BODY, "the body must be a JSON object")
        exempt = actor == ACTOR_APP
        fault = None
        applied = False
        counted_at = None
        with self._lock:
            faults = self._faults
            rate = faults.rate_for(endpoint)
            if refusal is None and not exempt:
                counted_at = self._limiter.admit(endpoint, rate, arrived)
                if counted_at is None:
                    refusal = Refusal(errors.RATE_LIMITED, f"more than {rate} calls a second to {endpoint}")
            if refusal is None and not exempt:
                fault = self._draw_fault(endpoint, faults)
            if refusal is not None:
                response = error_body(endpoint, refusal.code, refusal.info)
            elif fault == FAULT_FAIL:
                code = self._rng.choice(faults.fail_codes or (errors.INTERNAL_ERROR,))
                response = error_body(endpoint, code,
                                      faults.fail_info or f"injected by the sandbox: {errors.describe(code)}")
            elif fault == FAULT_TIMEOUT and not faults.ambiguous:
                response = error_body(endpoint, errors.SERVICE_TIMEOUT, "injected by the sandbox: service timeout")
            elif fault is not None and not faults.ambiguous:
                response = None
            else:
                response, changed = self._state.dispatch(endpoint, body)
                applied = True
                self._dirty = self._dirty or changed
            self._record(endpoint, actor, query, body, raw, fault, applied, response, counted_at)
        wait = faults.latency_ms / 1000 if not exempt and faults.touches(endpoint) else 0.0
        if fault == FAULT_DROP:
            return Reply(drop=True, wait=wait)
        if fault == FAULT_HTTP_ERROR:
            return Reply(http.HTTPStatus.BAD_GATEWAY, BAD_GATEWAY_BODY, "text/html", wait=wait)
        if fault == FAULT_TIMEOUT:
            wait += faults.timeout_seconds
        return json_reply(response, wait=wait)

    def _draw_fault(self, endpoint: str, faults: Faults) -> str | None:
        if not faults.touches(endpoint) or self._faults_left == 0:
            return None
        if not (faults.drop_rate or faults.timeout_rate or faults.http_error_rate or faults.fail_rate):
            return None
        draw = self._rng.random()
        for name, rate in ((FAULT_DROP, faults.drop_rate), (FAULT_TIMEOUT, faults.timeout_rate),
                           (FAULT_HTTP_ERROR, faults.http_error_rate), (FAULT_FAIL, faults.fail_rate)):
            if draw < rate:
                self._faults_injected += 1
                if self._faults_left is not None:
                    self._faults_left -= 1
                return name
            draw -= rate
        return None

    def _record(self, endpoint, actor, query, body, raw, fault, applied, response, counted_at=None) -> None:
        self._seq += 1
        if fault == FAULT_DROP:
            outcome, status = "dropped", None
        elif fault == FAULT_TIMEOUT:
            outcome, status = "timed_out", http.HTTPStatus.OK
        elif fault == FAULT_HTTP_ERROR:
            outcome, status = "http_error", http.HTTPStatus.BAD_GATEWAY
        else:
            outcome = "ok" if response and response["ErrorCode"] == errors.OK else "error"
            status = http.HTTPStatus.OK
        record = {
            "seq": self._seq,
            "time": time.time(),
            # The clock() reading the rate limit counted the call at (None for a call it did not count).
            "counted_at": counted_at,
            "endpoint": endpoint,
            "actor": actor,
            "identifier": query.get("identifier", ""),
            "body": body if body is not None else raw.decode("utf-8", errors="replace"),
            "outcome": outcome,
            "injected": fault is not None,
            "applied": applied,
            "http_status": int(status) if status else None,
            "error_code": response["ErrorCode"] if response and fault in (None, FAULT_FAIL, FAULT_TIMEOUT) else None,
            "response": response,
        }
        self._calls.append(record)

    def _control(self, method: str, name: str, query_text: str, raw: bytes) -> Reply:
        query = {key: values[0] for key, values in urllib.parse.parse_qs(query_text).items()}
        if (method, name) == ("GET", "health"):
            return json_reply({"status": "ok", "sdkappid": self.sdkappid, "admin_identifier": self.admin_identifier})
        if (method, name) == ("GET", "state"):
            return json_reply(self.snapshot())
        if (method, name) == ("POST", "reset"):
            self.reset()
            return json_reply({"reset": True})
        if (method, name) == ("GET", "faults"):
            return json_reply(self.faults)
        if (method, name) == ("DELETE", "faults"):
            return json_reply(self.clear_faults())
        if (method, name) == ("POST", "faults"):
            try:
                changes = json.loads(raw or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object of fault fields")
                return json_reply(self.set_faults(**changes))
            except ValueError as exc:
                return json_reply({"error": str(exc)}, http.HTTPStatus.BAD_REQUEST)
        if (method, name) == ("GET", "calls"):
            try:
                since = int(query.get("since", 0))
            except ValueError:
                return json_reply({"error": "since must be an integer"}, http.HTTPStatus.BAD_REQUEST)
            calls = [call for call in self.calls_to(query.get("endpoint"), query.get("actor")) if call["seq"] > since]
            return json_reply({"calls": calls})
        if (method, name) == ("POST", "conversations"):
            try:
                document = json.loads(raw or b"{}")
                if not isinstance(document, dict):
                    raise ValueError("the body must be a JSON object with From_Account and SessionItem")
                count = self.seed_conversations(document.get("From_Account"), document.get("SessionItem"))
            except ValueError as exc:
                return json_reply({"error": str(exc)}, http.HTTPStatus.BAD_REQUEST)
            return json_reply({"seeded": count})
        if (method, name) == ("DELETE", "calls"):
            self.clear_calls()
            return json_reply({"calls": []})
        return json_reply({"error": f"no control endpoint {method} {CONTROL_PREFIX}{name}"}, http.HTTPStatus.NOT_FOUND)
