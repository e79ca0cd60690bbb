"""Reading one of Chat's answers: its body within the attempt's deadline and size limit, its JSON, the error it means.

Errors. A non-zero top-level ``ErrorCode`` is the exception that ``errors.error_from_code`` picks for it (a plain
``ChatError`` for a code the table does not know: a failure, never a success). HTTP 5xx, an answer that is not
JSON, a timeout or a dropped connection are ``errors.ChatTransportError``; a connection that could not even be
opened is its subclass ``errors.ChatConnectError``. An answer holding a number JSON does not allow (NaN, Infinity,
1e999) is ``errors.ChatAnswerError``, the numbers kept as text for the audit (``decode``); codes are read by
``fields.chat_code``, a code past what a column holds as ``errors.CODE_UNREADABLE``. Per-conversation
``ResultCode``s are not errors: the caller reads them and decides what a partial success means.

The body is read in pieces as they arrive, each wait bounded by the time left to the deadline, so an answer sent a
byte at a time cannot hold the caller (``errors.ChatTooSlowError``). An answer longer than
``ChatConfig.max_answer_bytes`` is refused after that many bytes, unparsed (``errors.ChatAnswerTooLargeError``).
The connection of an answer not read to its end is closed. Each function here returns its error; the transport
raises it.
"""

import json
import math
import time
from collections.abc import Callable

import requests
import urllib3.exceptions

from contactgroups.chat import errors, protocol
from contactgroups.chat.config import ChatConfig
from contactgroups.chat.deadline import Late
from contactgroups.chat.fields import chat_code

# The most bytes of an answer read from the connection at once.
READ_CHUNK_BYTES = 64 * 1024


class TooLong(Exception):
    """The answer went past the size limit."""


def never_sent(exc: requests.RequestException) -> bool:
    """Whether ``exc`` happened before a connection was open, so the request cannot have reached Chat."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.exceptions.SSLError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)  # includes NewConnectionError
    return False


def too_slow(endpoint: str, body: dict, seconds: float, sent: bool = True, **details) -> errors.ChatError:
    """The error of an attempt whose deadline of ``seconds`` passed (``sent``: after the request went out)."""
    effect = "; the request may have taken effect" if sent else "; the request was not sent"
    return errors.ChatTooSlowError(
        f"Chat had not answered {endpoint} whole within its deadline of {seconds:g} s{effect}.",
        endpoint=endpoint, request=body, seconds=seconds, **details,
    )


def transport_error(endpoint: str, body: dict, exc: BaseException, read_timeout: float,
                    redact: Callable[[str], str]) -> errors.ChatError:
    """The error of a connection that failed with ``exc``, its text passed through ``redact`` (it holds the URL)."""
    detail = redact(f"{type(exc).__name__}: {exc}")
    if never_sent(exc):
        return errors.ChatConnectError(
            f"Could not connect to Chat for {endpoint}; the request was not sent ({detail}).",
            endpoint=endpoint, request=body,
        )
    if isinstance(exc, requests.ReadTimeout | urllib3.exceptions.ReadTimeoutError):
        message = (f"Chat did not answer {endpoint} within {read_timeout} s; the request may "
                   f"have taken effect ({detail}).")
    else:
        message = f"No answer from Chat for {endpoint}; the request may have taken effect ({detail})."
    return errors.ChatTransportError(message, endpoint=endpoint, request=body)


def read_body(response: requests.Response, deadline_at: float, read_timeout: float, limit: int) -> bytes:
    """The whole answer, read as it arrives. Raises Late past ``deadline_at``, TooLong past ``limit`` bytes, the
    connection's own errors as they come; leaves the response open."""
    raw = response.raw
    if raw is None or not hasattr(raw, "read1"):  # an answer already in memory, from an adapter that is no socket
        content = response.content or b""
        if len(content) > limit:
            raise TooLong()
        return content
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    pieces = []
    size = 0
    while True:
        left = deadline_at - time.monotonic()
        if left <= 0:
            raise Late()
        wait = min(read_timeout, left)
        if sock is not None:
            sock.settimeout(wait)  # each wait on the socket ends by the deadline: read1 waits once at most
        try:
            piece = raw.read1(READ_CHUNK_BYTES, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError:
            if wait == left:
                raise Late() from None
            raise
        if not piece:
            return b"".join(pieces)
        size += len(piece)
        if size > limit:
            raise TooLong()
        pieces.append(piece)


def read_answer(
    endpoint: str, body: dict, response: requests.Response, deadline_at: float, seconds: float, config: ChatConfig,
    redact: Callable[[str], str],
) -> tuple[dict | None, errors.ChatError | None]:
    """Chat's answer to one attempt and the error it means (None for a success); the response closed after it."""
    status = response.status_code
    try:
        content = read_body(response, deadline_at, config.read_timeout, config.max_answer_bytes)
    except Late:
        return None, too_slow(endpoint, body, seconds, http_status=status)
    except TooLong:
        limit = config.max_answer_bytes
        return None, errors.ChatAnswerTooLargeError(
            f"Chat's answer to {endpoint} was longer than {limit} bytes, the most this client reads; it was "
            f"not read, and the request may have taken effect.",
            endpoint=endpoint, request=body, http_status=status, limit=limit,
        )
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        return None, transport_error(endpoint, body, exc, config.read_timeout, redact)
    finally:
        response.close()  # after a whole answer the connection is already back in the pool; otherwise closed
    return judge(endpoint, body, status, content)


def judge(endpoint: str, body: dict, status: int, content: bytes) -> tuple[dict | None, errors.ChatError | None]:
    """The answer in ``content`` (a JSON object, else None) and the error it means, None for a success."""
    try:
        answer, not_finite = decode(content)
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


def decode(content: bytes) -> tuple[object, bool]:
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
