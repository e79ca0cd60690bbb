"""UserSig (TLSSigAPIv2): generate and verify, as Tencent's official libraries do.

A UserSig is ``base64url*(zlib(json))`` where the JSON carries the identifier, the
SDKAppID, the issue time, the validity in seconds and an HMAC-SHA256 over those
four lines, keyed with the app's secret key (its UTF-8 bytes, used as they are).
The base64 alphabet maps ``+ / =`` to ``* - _``.
"""

import base64
import binascii
import hashlib
import hmac
import json
import time
import zlib
from dataclasses import dataclass

from contactgroups.chat.protocol import USERSIG_DEFAULT_EXPIRE_SECONDS

_TO_SIG = str.maketrans({"+": "*", "/": "-", "=": "_"})
_FROM_SIG = str.maketrans({"*": "+", "-": "/", "_": "="})


class UserSigError(ValueError):
    """A UserSig that does not verify. ``reason`` is one of the REASON_* names."""

    BAD_ENCODING = "bad_encoding"
    SDKAPPID_MISMATCH = "sdkappid_mismatch"
    IDENTIFIER_MISMATCH = "identifier_mismatch"
    EXPIRED = "expired"
    BAD_SIGNATURE = "bad_signature"

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class UserSigInfo:
    """The verified fields of a UserSig."""

    identifier: str
    sdkappid: int
    time: int
    expire: int

    @property
    def expires_at(self) -> int:
        return self.time + self.expire


def _hmac(secret_key: str, identifier: str, sdkappid: int, curr_time: int, expire: int) -> str:
    content = (
        f"TLS.identifier:{identifier}\n"
        f"TLS.sdkappid:{sdkappid}\n"
        f"TLS.time:{curr_time}\n"
        f"TLS.expire:{expire}\n"
    )
    digest = hmac.new(secret_key.encode("utf-8"), content.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def generate_usersig(
    sdkappid: int,
    secret_key: str,
    identifier: str,
    expire: int = USERSIG_DEFAULT_EXPIRE_SECONDS,
    now: int | None = None,
) -> str:
    """A UserSig for ``identifier``, valid for ``expire`` seconds from ``now``."""
    curr_time = int(time.time()) if now is None else int(now)
    document = {
        "TLS.ver": "2.0",
        "TLS.identifier": str(identifier),
        "TLS.sdkappid": int(sdkappid),
        "TLS.expire": int(expire),
        "TLS.time": curr_time,
        "TLS.sig": _hmac(secret_key, identifier, int(sdkappid), curr_time, int(expire)),
    }
    compressed = zlib.compress(json.dumps(document).encode("utf-8"))
    return base64.b64encode(compressed).decode("ascii").translate(_TO_SIG)


def decode_usersig(usersig: str) -> dict:
    """The JSON document inside a UserSig, without checking its signature."""
    try:
        raw = base64.b64decode(usersig.translate(_FROM_SIG).encode("ascii"), validate=True)
        document = json.loads(zlib.decompress(raw).decode("utf-8"))
    except (binascii.Error, UnicodeError, ValueError, zlib.error) as exc:
        raise UserSigError(UserSigError.BAD_ENCODING, "The UserSig is not a valid TLSSigAPIv2 token.") from exc
    if not isinstance(document, dict):
        raise UserSigError(UserSigError.BAD_ENCODING, "The UserSig is not a valid TLSSigAPIv2 token.")
    return document


def verify_usersig(
    usersig: str, sdkappid: int, secret_key: str, identifier: str, now: int | None = None
) -> UserSigInfo:
    """Check ``usersig`` for this app and identifier; raise UserSigError saying why not."""
    document = decode_usersig(usersig)
    try:
        info = UserSigInfo(
            identifier=str(document["TLS.identifier"]),
            sdkappid=int(document["TLS.sdkappid"]),
            time=int(document["TLS.time"]),
            expire=int(document["TLS.expire"]),
        )
        signature = str(document["TLS.sig"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserSigError(UserSigError.BAD_ENCODING, "The UserSig lacks a required field.") from exc
    if info.sdkappid != int(sdkappid):
        raise UserSigError(UserSigError.SDKAPPID_MISMATCH, "The UserSig was issued for another SDKAppID.")
    if info.identifier != identifier:
        raise UserSigError(UserSigError.IDENTIFIER_MISMATCH, "The UserSig was issued for another identifier.")
    expected = _hmac(secret_key, info.identifier, info.sdkappid, info.time, info.expire)
    if not hmac.compare_digest(expected, signature):
        raise UserSigError(UserSigError.BAD_SIGNATURE, "The UserSig signature does not match the secret key.")
    current = int(time.time()) if now is None else int(now)
    if current > info.expires_at:
        raise UserSigError(UserSigError.EXPIRED, "The UserSig has expired.")
    return info
