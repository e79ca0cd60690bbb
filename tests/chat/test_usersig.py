"""UserSig (TLSSigAPIv2): known answers from Tencent's algorithm, verification, and the chat_usersig command."""

import base64
import hashlib
import hmac
import json
import zlib
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from contactgroups.chat import protocol
from contactgroups.chat.usersig import UserSigError, decode_usersig, generate_usersig, verify_usersig

# Tencent's demo app (reference §4), signed with the official Python library at a pinned time.
DEMO_SDKAPPID = 1400000000
DEMO_KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
DEMO_TIME = 1700000000
XIAOJUN_USERSIG = (
    "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpQJlLMxM4IIlmbkgIUNzNMXFmekg"
    "44P93EzccsOcA0qT8yOKnfwLksLcjNPcnNNMzb0Ccg1Sq6IMs1LDPH1ywpJtlWoBk68y0A__"
)

CHAT_SETTINGS = {
    "CHAT_SDKAPPID": 1400000001,
    "CHAT_SECRET_KEY": "command-test-secret-key",
    "CHAT_ADMIN_IDENTIFIER": "administrator",
    "CHAT_REGION": "",
    "CHAT_API_BASE_URL": "http://127.0.0.1:8081",
}


def reference_verify(usersig: str, secret_key: str) -> dict:
    """Reference §4, steps 6 back to 1, written out again independently of contactgroups.chat.usersig."""
    raw = base64.b64decode(usersig.replace("*", "+").replace("-", "/").replace("_", "="))
    document = json.loads(zlib.decompress(raw))
    content = (
        f"TLS.identifier:{document['TLS.identifier']}\n"
        f"TLS.sdkappid:{document['TLS.sdkappid']}\n"
        f"TLS.time:{document['TLS.time']}\n"
        f"TLS.expire:{document['TLS.expire']}\n"
    )
    digest = hmac.new(secret_key.encode(), content.encode(), hashlib.sha256).digest()
    assert base64.b64encode(digest).decode() == document["TLS.sig"]
    return document


def test_golden_hmac_vector():
    usersig = generate_usersig(20030819, "test-secret-key-1234567890abcdef", "user_42", 604800, now=1718764800)

    assert decode_usersig(usersig)["TLS.sig"] == "8y4PAvIKGCmKvubBW+DGnAa/LQ9VpBWp4fEjtiQ/VHQ="


def test_demo_app_usersig_matches_the_official_library_byte_for_byte():
    assert generate_usersig(DEMO_SDKAPPID, DEMO_KEY, "xiaojun", 86400, now=DEMO_TIME) == XIAOJUN_USERSIG


def test_demo_app_administrator_signature():
    usersig = generate_usersig(DEMO_SDKAPPID, DEMO_KEY, "administrator", 15552000, now=DEMO_TIME)

    assert decode_usersig(usersig)["TLS.sig"] == "JCzxanF8NTTXau4m+2h9wv7gYJnyNksm0xm1NEXU274="


def test_usersig_document_carries_the_signed_fields():
    document = decode_usersig(XIAOJUN_USERSIG)

    assert document == {
        "TLS.ver": "2.0",
        "TLS.identifier": "xiaojun",
        "TLS.sdkappid": DEMO_SDKAPPID,
        "TLS.expire": 86400,
        "TLS.time": DEMO_TIME,
        "TLS.sig": "SNF4FmVCPucoXsBOpbVF3fFCf57JPm0ezZ1jeVILlVc=",
    }


def test_usersig_uses_the_url_safe_alphabet_and_starts_with_the_zlib_header():
    usersig = generate_usersig(DEMO_SDKAPPID, DEMO_KEY, "administrator", 86400, now=DEMO_TIME)

    assert usersig.startswith("eJ")
    assert not set(usersig) & set("+/=")


def test_verify_accepts_a_valid_usersig():
    info = verify_usersig(XIAOJUN_USERSIG, DEMO_SDKAPPID, DEMO_KEY, "xiaojun", now=DEMO_TIME + 10)

    assert (info.identifier, info.sdkappid, info.time, info.expire) == ("xiaojun", DEMO_SDKAPPID, DEMO_TIME, 86400)


def test_verify_accepts_the_last_second_of_validity():
    info = verify_usersig(XIAOJUN_USERSIG, DEMO_SDKAPPID, DEMO_KEY, "xiaojun", now=DEMO_TIME + 86400)

    assert info.expires_at == DEMO_TIME + 86400


def test_verify_refuses_text_that_is_not_a_usersig():
    with pytest.raises(UserSigError) as caught:
        verify_usersig("not-a-usersig!", DEMO_SDKAPPID, DEMO_KEY, "xiaojun", now=DEMO_TIME)

    assert caught.value.reason == UserSigError.BAD_ENCODING


def test_verify_refuses_another_sdkappid():
    with pytest.raises(UserSigError) as caught:
        verify_usersig(XIAOJUN_USERSIG, DEMO_SDKAPPID + 1, DEMO_KEY, "xiaojun", now=DEMO_TIME)

    assert caught.value.reason == UserSigError.SDKAPPID_MISMATCH


def test_verify_refuses_another_identifier():
    with pytest.raises(UserSigError) as caught:
        verify_usersig(XIAOJUN_USERSIG, DEMO_SDKAPPID, DEMO_KEY, "administrator", now=DEMO_TIME)

    assert caught.value.reason == UserSigError.IDENTIFIER_MISMATCH


def test_verify_refuses_an_expired_usersig():
    with pytest.raises(UserSigError) as caught:
        verify_usersig(XIAOJUN_USERSIG, DEMO_SDKAPPID, DEMO_KEY, "xiaojun", now=DEMO_TIME + 86401)

    assert caught.value.reason == UserSigError.EXPIRED


def test_verify_refuses_a_signature_made_with_another_key():
    with pytest.raises(UserSigError) as caught:
        verify_usersig(XIAOJUN_USERSIG, DEMO_SDKAPPID, "another-secret-key", "xiaojun", now=DEMO_TIME)

    assert caught.value.reason == UserSigError.BAD_SIGNATURE


# ---------------------------------------------------------------------------------------------- chat_usersig command


def run_chat_usersig(*args) -> str:
    out = StringIO()
    call_command("chat_usersig", *args, stdout=out)
    return out.getvalue()


@override_settings(**CHAT_SETTINGS)
def test_command_prints_only_a_usersig_for_the_configured_administrator():
    output = run_chat_usersig()

    usersig = output.strip()
    assert output == usersig + "\n"
    info = verify_usersig(usersig, 1400000001, "command-test-secret-key", "administrator")
    assert info.expire == protocol.USERSIG_DEFAULT_EXPIRE_SECONDS


@override_settings(**CHAT_SETTINGS)
def test_command_output_verifies_with_the_reference_algorithm():
    document = reference_verify(run_chat_usersig().strip(), "command-test-secret-key")

    assert (document["TLS.sdkappid"], document["TLS.identifier"]) == (1400000001, "administrator")


@override_settings(**CHAT_SETTINGS)
def test_command_signs_for_another_identifier_and_lifetime():
    usersig = run_chat_usersig("--identifier", "user_0001", "--expire", "600").strip()

    info = verify_usersig(usersig, 1400000001, "command-test-secret-key", "user_0001")
    assert info.expire == 600


@override_settings(**CHAT_SETTINGS)
def test_command_refuses_an_identifier_chat_would_refuse():
    with pytest.raises(CommandError, match="at most 32"):
        run_chat_usersig("--identifier", "x" * (protocol.USER_ID_MAX_BYTES + 1))


@override_settings(**{**CHAT_SETTINGS, "CHAT_REGION": "", "CHAT_API_BASE_URL": ""})
def test_command_needs_neither_a_region_nor_a_base_url():
    """A UserSig signs the identifier, SDKAppID, time and lifetime with the secret key, nothing else ("生成
    UserSig", TLSSigAPIv2: https://github.com/tencentyun/tls-sig-api-v2-python), so no address is needed."""
    usersig = run_chat_usersig().strip()

    assert verify_usersig(usersig, 1400000001, "command-test-secret-key", "administrator").identifier == "administrator"


@override_settings(**{**CHAT_SETTINGS, "CHAT_SECRET_KEY": ""})
def test_command_without_the_secret_key_names_the_setting():
    with pytest.raises(CommandError, match="CHAT_SECRET_KEY"):
        run_chat_usersig()
