"""How a request reaches Chat: the admin's UserSig, the rate limiter, the POST, reading the answer, the retries.

Errors. A non-zero top-level ``ErrorCode`` raises the exception that ``errors.error_from_code`` picks for it (a
plain ``ChatError`` for a code the table does not know: a failure, never a success). HTTP 5xx, an answer that is
not JSON, a timeout or a dropped connection raise ``errors.ChatTransportError``; a connection that could not even
be opened raises its subclass ``errors.ChatConnectError``. Per-conversation ``ResultCode``s are returned in
``ItemResult``s and never raised: the caller decides what a partial success means. An answer holding a number JSON
does not allow (NaN, Infinity, 1e999) raises ``errors.ChatAnswerError``, the numbers kept as text for the audit;
codes are read by ``types.chat_code``, a code past what a column holds as ``errors.CODE_UNREADABLE``.

Retries (exponential backoff with full jitter, at most ``ChatConfig.max_retries`` after the first attempt):

- Reads (get_contact_group, search_contact_group, get_list, account_check) are retried on every retryable error:
  throttling, 50004, 50005, 60008, HTTP 5xx, timeouts, connection errors.
- Writes (everything else) are retried only when Chat certainly did not act on the request: a throttling answer
  (``errors.THROTTLING_CODES``, after a longer backoff) or a connection that was never opened
  (``ChatConnectError``). A write that timed out after it was sent, a 50004/50005/60008 answer, HTTP 5xx or a
  dropped connection may have taken effect, so the retryable error is raised instead; the sync layer reads Chat's
  state before it decides what to send again. A write is never silently sent twice.
- A 70001 answer (UserSig expired, for instance after a clock jump) renews the UserSig and tries once more; Chat
  refused the request before acting on it.

Deadline and size. Each HTTP attempt ends within ``ChatConfig.deadline`` seconds, connecting, the status line, the
headers and the whole answer included: every wait on the connection's socket is bounded by the time left
(``DeadlineAdapter``), and the answer is read in pieces as they arrive, so headers or an answer sent a byte at a time
cannot hold the caller (``errors.ChatTooSlowError``). ``Transport.within`` sets one
deadline for every call made in a block (a page's read of several pages), and no retry starts that could not end
before it. An answer longer than ``ChatConfig.max_answer_bytes`` is refused after that many bytes, unparsed
(``errors.ChatAnswerTooLargeError``). The connection of an answer not read to its end is closed.
"""

import copy
import json
import logging
import math
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from contactgroups.chat import errors, protocol
from contactgroups.chat.config import ChatConfig
from contactgroups.chat.ratelimit import EndpointRateLimiter
from contactgroups.chat.redaction import REDACTED, install_log_redaction, redact_usersig
from contactgroups.chat.types import CallRecord, chat_code
from contactgroups.chat.usersig import generate_usersig

logger = logging.getLogger(__name__)

# Backoff between attempts. A throttled call waits THROTTLE_BACKOFF_FACTOR times longer, at least half of that.
BACKOFF_CAP_SECONDS = 20.0
THROTTLE_BACKOFF_FACTOR = 5
# The most bytes of an answer read from the connection at once.
READ_CHUNK_BYTES = 64 * 1024


def backoff_delay(attempt: int, base: float, *, throttled: bool = False, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first retry).

    Exponential with full jitter: uniform between 0 and ``base * 2**(attempt - 1)``, capped at
    BACKOFF_CAP_SECONDS. After a throttling answer the ceiling is THROTTLE_BACKOFF_FACTOR times higher and the
    wait is at least half of it, so a throttled caller always slows down.
    """
    rng = rng or random
    ceiling = base * 2 ** (attempt - 1)
    if throttled:
        ceiling = min(BACKOFF_CAP_SECONDS, ceiling * THROTTLE_BACKOFF_FACTOR)
        return rng.uniform(ceiling / 2, ceiling)
    return rng.uniform(0, min(BACKOFF_CAP_SECONDS, ceiling))


# The deadline (monotonic) of the HTTP attempt this thread is making, read by every wait on its socket.
_attempt = threading.local()


class _DeadlineSocket:
    """A connected socket, TLS already wrapped, whose every wait (receiving the status line, the headers or the body,
    sending the request) ends by the deadline of the attempt this thread is making: past it, _Late. Every other
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
            raise _Late()
        bounded = self._timeout is None or left < self._timeout
        self._sock.settimeout(left if bounded else self._timeout)
        try:
            return operation(*args)
        except TimeoutError:
            if bounded:
                raise _Late() from None
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


def chat_session() -> requests.Session:
    """A requests session for Chat calls: its connections keep each attempt's deadline (``DeadlineAdapter``)."""
    session = requests.Session()
    adapter = DeadlineAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether ``exc`` happened before a connection was open, so the request cannot have reached Chat."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.exceptions.SSLError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)  # includes NewConnectionError
    return False


class Transport:
    """Sends JSON bodies to one Chat app's endpoints as its administrator; see the module docstring for the policy.

    Holds the HTTP session, the administrator's UserSig (renewed before it expires) and the rate limiter.
    ``on_call`` receives a CallRecord after every HTTP attempt (each page, each retry); an exception it raises
    propagates.
    """

    def __init__(
        self,
        config: ChatConfig,
        *,
        on_call: Callable[[CallRecord], None] | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config
        self.on_call = on_call
        self._session = session or chat_session()
        self._owns_session = session is None
        self._clock = clock
        self._sleep = sleep
        self._random = random.Random()
        self._usersig_lock = threading.Lock()
        self._usersig: str | None = None
        self._usersig_renew_at = 0.0
        self._local = threading.local()  # this thread's deadline set by within(): (monotonic time, seconds)
        self._limiter = EndpointRateLimiter(
            config.sdkappid,
            config.rate_limit_storage,
            config.rate_limit,
            {endpoint: config.rate_for(endpoint) for endpoint in protocol.ENDPOINTS},
            share=config.rate_share,
        )
        install_log_redaction()

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    @contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        """Every call this thread makes in the block ends within ``seconds`` from now, all its pages and retries
        included; an enclosing block's earlier deadline still holds."""
        if not seconds > 0:
            raise ValueError(f"A deadline must be a positive number of seconds, not {seconds!r}.")
        previous = getattr(self._local, "deadline", None)
        until = time.monotonic() + seconds
        if previous is None or until < previous[0]:
            self._local.deadline = (until, seconds)
        try:
            yield
        finally:
            self._local.deadline = previous

    def _deadline(self, began: float) -> tuple[float, float]:
        """When an attempt begun at ``began`` must end (monotonic), and the seconds of the deadline that says so."""
        own = (began + self.config.deadline, self.config.deadline)
        outer = getattr(self._local, "deadline", None)
        return outer if outer is not None and outer[0] < own[0] else own

    def admin_usersig(self) -> str:
        """The administrator's UserSig, made from the config and renewed well before it expires."""
        now = self._clock()
        with self._usersig_lock:
            if self._usersig is None or now >= self._usersig_renew_at:
                ttl = self.config.usersig_ttl
                issued = int(now)
                self._usersig = generate_usersig(
                    self.config.sdkappid, self.config.secret_key, self.config.admin_identifier, ttl, now=issued
                )
                # Renew when a tenth of the lifetime is left, or an hour, whichever is more, but at half-life at
                # the latest, so a sig in flight never expires on the way.
                margin = min(max(ttl / 10, 3600), ttl / 2)
                self._usersig_renew_at = issued + ttl - margin
            return self._usersig

    def _forget_usersig(self) -> None:
        with self._usersig_lock:
            self._usersig = None

    def _url(self, endpoint: str) -> str:
        query = urlencode(
            [
                ("sdkappid", str(self.config.sdkappid)),
                ("identifier", self.config.admin_identifier),
                ("usersig", self.admin_usersig()),
                ("random", str(secrets.randbits(32))),
                ("contenttype", "json"),
            ],
            quote_via=quote,
            safe="*",
        )
        return f"{self.config.endpoint_url(endpoint)}?{query}"

    def _redact(self, text: str) -> str:
        text = redact_usersig(text)
        for secret in (self._usersig, self.config.secret_key):
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def call(self, endpoint: str, body: dict, parse: Callable[[dict], object] | None = None):
        """POST ``body`` to ``endpoint`` under the retry policy; return ``parse(answer)`` or the answer."""
        read = endpoint in protocol.READ_ENDPOINTS
        retries = 0
        renewed_usersig = False
        while True:
            answer, error = self._attempt(endpoint, body)
            if error is None:
                return self.parse(endpoint, body, answer, parse) if parse else answer
            if error.code == errors.USERSIG_EXPIRED and not renewed_usersig:
                renewed_usersig = True
                self._forget_usersig()
                continue
            if read:
                may_retry = error.retryable
            else:
                may_retry = isinstance(error, errors.ChatThrottledError | errors.ChatConnectError)
            if not may_retry or retries >= self.config.max_retries:
                raise error
            retries += 1
            delay = backoff_delay(
                retries, self.config.backoff_base,
                throttled=isinstance(error, errors.ChatThrottledError), rng=self._random,
            )
            outer = getattr(self._local, "deadline", None)
            if outer is not None and time.monotonic() + delay >= outer[0]:
                raise error  # the retry could not end before the block's deadline
            logger.info("Retrying %s in %.2f s (retry %d of %d) after: %s",
                        endpoint, delay, retries, self.config.max_retries, error)
            self._sleep(delay)

    def parse(self, endpoint: str, body: dict, answer: dict, parse: Callable[[dict], object]):
        """``parse(answer)``, or a ChatError if a successful answer does not have the shape ``parse`` expects."""
        try:
            return parse(answer)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError, StopIteration) as exc:
            raise errors.ChatAnswerError(
                f"Chat's answer to {endpoint} reported success but had an unexpected shape "
                f"({type(exc).__name__}: {exc}).",
                endpoint=endpoint, request=body, response=answer,
            ) from exc

    def _attempt(self, endpoint: str, body: dict) -> tuple[dict | None, errors.ChatError | None]:
        """One POST. Returns (answer, None) on success, (answer or None, error) otherwise; raises nothing itself."""
        self._limiter.wait(endpoint)
        began = time.monotonic()
        deadline_at, seconds = self._deadline(began)
        if deadline_at <= began:  # a block's deadline passed before this call could start: nothing is sent
            return None, self._too_slow(endpoint, body, seconds, sent=False)
        url = self._url(endpoint)
        left = deadline_at - began
        timeout = (min(self.config.connect_timeout, left), min(self.config.read_timeout, left))
        started_at = datetime.now(UTC)
        response = None
        error = None
        answer = None
        _attempt.deadline = deadline_at
        try:
            response = self._session.post(url, json=body, timeout=timeout, stream=True)
        except _Late:  # the status line or headers had not all come by the deadline
            error = self._too_slow(endpoint, body, seconds)
        except requests.RequestException as exc:
            # Built here, raised by the caller outside this block, so the requests exception (whose text holds
            # the URL and with it the UserSig) is neither the cause nor the context of what the caller sees.
            if isinstance(exc, requests.ReadTimeout) and timeout[1] == left:
                error = self._too_slow(endpoint, body, seconds)
            else:
                error = self._transport_error(endpoint, body, exc)
        else:
            answer, error = self._read_answer(endpoint, body, response, deadline_at, seconds)
        finally:
            _attempt.deadline = None
        duration = time.monotonic() - began
        record = CallRecord(
            endpoint=endpoint,
            request=copy.deepcopy(body),
            response=answer,
            http_status=response.status_code if response is not None else None,
            action_status=protocol.escaped(str(answer.get("ActionStatus", "")))[:protocol.ACTION_STATUS_MAX_CHARS]
            if answer else "",
            error_code=chat_code(answer.get("ErrorCode")) if answer else None,
            error_info=protocol.escaped(str(answer.get("ErrorInfo", ""))) if answer else "",
            started_at=started_at,
            duration=duration,
            error=error,
        )
        logger.debug(
            "Chat %s: HTTP %s, %s %s %r in %.3f s; sent %s; answer %s",
            endpoint, record.http_status, record.action_status or "-", record.error_code, record.error_info,
            duration, body, answer if answer is not None else (str(error) if error else None),
        )
        if self.on_call is not None:
            self.on_call(record)
        return answer, error

    def _too_slow(self, endpoint: str, body: dict, seconds: float, sent: bool = True, **details) -> errors.ChatError:
        effect = "; the request may have taken effect" if sent else "; the request was not sent"
        return errors.ChatTooSlowError(
            f"Chat had not answered {endpoint} whole within its deadline of {seconds:g} s{effect}.",
            endpoint=endpoint, request=body, seconds=seconds, **details,
        )

    def _transport_error(self, endpoint: str, body: dict, exc: BaseException) -> errors.ChatError:
        detail = self._redact(f"{type(exc).__name__}: {exc}")
        if _never_sent(exc):
            return errors.ChatConnectError(
                f"Could not connect to Chat for {endpoint}; the request was not sent ({detail}).",
                endpoint=endpoint, request=body,
            )
        if isinstance(exc, requests.ReadTimeout | urllib3.exceptions.ReadTimeoutError):
            message = (f"Chat did not answer {endpoint} within {self.config.read_timeout} s; the request may "
                       f"have taken effect ({detail}).")
        else:
            message = f"No answer from Chat for {endpoint}; the request may have taken effect ({detail})."
        return errors.ChatTransportError(message, endpoint=endpoint, request=body)

    def _read_body(self, response: requests.Response, deadline_at: float) -> bytes:
        """The whole answer, read as it arrives. Raises _Late past ``deadline_at``, _TooLong past the size limit,
        the connection's own errors as they come; leaves the response open."""
        limit = self.config.max_answer_bytes
        raw = response.raw
        if raw is None or not hasattr(raw, "read1"):  # an answer already in memory, from an adapter that is no socket
            content = response.content or b""
            if len(content) > limit:
                raise _TooLong()
            return content
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        pieces = []
        size = 0
        while True:
            left = deadline_at - time.monotonic()
            if left <= 0:
                raise _Late()
            wait = min(self.config.read_timeout, left)
            if sock is not None:
                sock.settimeout(wait)  # each wait on the socket ends by the deadline: read1 waits once at most
            try:
                piece = raw.read1(READ_CHUNK_BYTES, decode_content=True)
            except urllib3.exceptions.ReadTimeoutError:
                if wait == left:
                    raise _Late() from None
                raise
            if not piece:
                return b"".join(pieces)
            size += len(piece)
            if size > limit:
                raise _TooLong()
            pieces.append(piece)

    def _read_answer(
        self, endpoint: str, body: dict, response: requests.Response, deadline_at: float, seconds: float
    ) -> tuple[dict | None, errors.ChatError | None]:
        status = response.status_code
        try:
            content = self._read_body(response, deadline_at)
        except _Late:
            return None, self._too_slow(endpoint, body, seconds, http_status=status)
        except _TooLong:
            limit = self.config.max_answer_bytes
            return None, errors.ChatAnswerTooLargeError(
                f"Chat's answer to {endpoint} was longer than {limit} bytes, the most this client reads; it was "
                f"not read, and the request may have taken effect.",
                endpoint=endpoint, request=body, http_status=status, limit=limit,
            )
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            return None, self._transport_error(endpoint, body, exc)
        finally:
            response.close()  # after a whole answer the connection is already back in the pool; otherwise closed
        try:
            answer, not_finite = _decode(content)
        except ValueError:
            answer, not_finite = None, False
        if not isinstance(answer, dict):
            answer = None
        details = {"endpoint": endpoint, "http_status": status, "request": body, "response": answer}
        if status >= 500:
            return answer, errors.ChatTransportError(
                f"Chat answered {endpoint} with HTTP {status}; the request may have taken effect.", **details
            )
        if answer is None:
            if status != 200:
                return None, errors.ChatAnswerError(
                    f"Chat answered {endpoint} with HTTP {status} and no JSON.", **details
                )
            return None, errors.ChatTransportError(
                f"Chat's answer to {endpoint} was not a JSON object; the request may have taken effect.", **details
            )
        if not_finite:
            return answer, errors.ChatAnswerError(
                f"Chat's answer to {endpoint} held a number JSON does not allow (NaN, Infinity, or one past any "
                f"floating-point number); it is kept with each such number as its text.", **details
            )
        code = chat_code(answer.get("ErrorCode"))
        if code is None:
            missing = "ErrorCode" not in answer
            return answer, errors.ChatAnswerError(
                f"Chat's answer to {endpoint} has no ErrorCode." if missing else
                f"Chat's answer to {endpoint} has an ErrorCode that is not a number.", **details)
        if code != errors.OK:
            info = protocol.escaped(str(answer.get("ErrorInfo", "")))
            return answer, errors.error_from_code(code, info=info, **details)
        if answer.get("ActionStatus") != "OK" or status != 200:
            return answer, errors.ChatAnswerError(
                f"Chat answered {endpoint} with ErrorCode 0 but ActionStatus {answer.get('ActionStatus')!r} "
                f"and HTTP {status}; treated as a failure.",
                **details,
            )
        return answer, None


def _decode(content: bytes) -> tuple[object, bool]:
    """Chat's answer as JSON data, and whether it held a number no JSON column can hold: NaN, Infinity, -Infinity
    (which Python's json reads, though JSON does not allow them) or one past any floating-point number (1e999).
    Each such number is kept as its text, so the answer can still be stored. ValueError if it is not JSON."""
    odd = []

    def constant(text: str) -> str:
        odd.append(text)
        return text

    def number(text: str) -> float | str:
        value = float(text)
        return value if math.isfinite(value) else constant(text)

    return json.loads(content, parse_constant=constant, parse_float=number), bool(odd)


class _Late(Exception):
    """The deadline passed while the answer was being read."""


class _TooLong(Exception):
    """The answer went past the size limit."""
