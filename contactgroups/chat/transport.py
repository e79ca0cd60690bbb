"""How a request reaches Chat: the admin's UserSig, the rate limiter, the POST, the retries.

``Transport.call`` sends one request under the policy below; ``answers`` reads each attempt's answer and says which
error it means (a non-zero ErrorCode, HTTP 5xx, no JSON, a timeout, a dropped connection, a connection never
opened), and ``deadline`` keeps each attempt's deadline on its socket. Per-conversation ``ResultCode``s are
returned in ``ItemResult``s and never raised: the caller decides what a partial success means.

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

Deadline. Each HTTP attempt ends within ``ChatConfig.deadline`` seconds, connecting, the status line, the headers
and the whole answer included (``errors.ChatTooSlowError`` past it). ``Transport.within`` sets one deadline for
every call made in a block (a page's read of several pages), and no retry starts that could not end before it.
"""

import copy
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import requests

from contactgroups.chat import errors, protocol
from contactgroups.chat.answers import read_answer, too_slow, transport_error
from contactgroups.chat.config import ChatConfig
from contactgroups.chat.deadline import Late, attempt_ending_at, chat_session
from contactgroups.chat.fields import chat_code
from contactgroups.chat.ratelimit import EndpointRateLimiter
from contactgroups.chat.record import CallRecord
from contactgroups.chat.redaction import REDACTED, install_log_redaction, redact_usersig
from contactgroups.chat.usersig import generate_usersig

logger = logging.getLogger(__name__)

# Backoff between attempts. A throttled call waits THROTTLE_BACKOFF_FACTOR times longer, at least half of that.
BACKOFF_CAP_SECONDS = 20.0
THROTTLE_BACKOFF_FACTOR = 5


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
        self._session = session or chat_session(config.api_base)
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

    def _send(self, url: str, body: dict, timeout: tuple[float, float]) -> requests.Response:
        """POST ``body`` as JSON to ``url`` through the session's adapter, its answer left unread (``answers`` reads
        it). The session's proxies, CA bundle and headers apply; its cookie jar, hooks and redirects are left out:
        Chat's REST API uses none, and a redirected POST must not become a GET. This is a fifth of the CPU a call
        less than ``Session.post``."""
        session = self._session
        request = requests.PreparedRequest()
        request.prepare(method="POST", url=url, headers=session.headers, json=body)
        return session.get_adapter(url).send(request, stream=True, timeout=timeout, verify=session.verify,
                                             proxies=session.proxies, cert=session.cert)

    def _attempt(self, endpoint: str, body: dict) -> tuple[dict | None, errors.ChatError | None]:
        """One POST. Returns (answer, None) on success, (answer or None, error) otherwise; raises nothing itself."""
        self._limiter.wait(endpoint)
        began = time.monotonic()
        deadline_at, seconds = self._deadline(began)
        if deadline_at <= began:  # a block's deadline passed before this call could start: nothing is sent
            return None, too_slow(endpoint, body, seconds, sent=False)
        url = self._url(endpoint)
        left = deadline_at - began
        timeout = (min(self.config.connect_timeout, left), min(self.config.read_timeout, left))
        started_at = datetime.now(UTC)
        response = None
        error = None
        answer = None
        with attempt_ending_at(deadline_at):
            try:
                response = self._send(url, body, timeout)
            except Late:  # the status line or headers had not all come by the deadline
                error = too_slow(endpoint, body, seconds)
            except requests.RequestException as exc:
                # Built here, raised by the caller outside this block, so the requests exception (whose text holds
                # the URL and with it the UserSig) is neither the cause nor the context of what the caller sees.
                if isinstance(exc, requests.ReadTimeout) and timeout[1] == left:
                    error = too_slow(endpoint, body, seconds)
                else:
                    error = transport_error(endpoint, body, exc, self.config.read_timeout, self._redact)
            else:
                answer, error = read_answer(endpoint, body, response, deadline_at, seconds, self.config, self._redact)
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
