"""contactgroups.conf: the one function that reads the CHAT_* settings."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from contactgroups.chat import protocol
from contactgroups.chat.client import ChatClient
from contactgroups.conf import chat_client, chat_config

COMPLETE = {
    "CHAT_SDKAPPID": 1400000002,
    "CHAT_SECRET_KEY": "conf-test-secret-key",
    "CHAT_ADMIN_IDENTIFIER": "administrator",
    "CHAT_REGION": "singapore",
    "CHAT_API_BASE_URL": "",
    "CHAT_RATE_LIMIT": None,
}


@override_settings(**COMPLETE)
def test_settings_become_a_chat_config():
    config = chat_config()

    assert (config.sdkappid, config.secret_key, config.admin_identifier, config.region) == (
        1400000002,
        "conf-test-secret-key",
        "administrator",
        "singapore",
    )
    assert config.endpoint_url("recentcontact/get_list") == (
        "https://adminapisgp.im.qcloud.com/v4/recentcontact/get_list"
    )


@override_settings(**{**COMPLETE, "CHAT_API_BASE_URL": "http://127.0.0.1:8081"})
def test_base_url_wins_over_region():
    assert chat_config().api_base == "http://127.0.0.1:8081"


@override_settings(**{**COMPLETE, "CHAT_REGION": " Silicon-Valley "})
def test_region_is_read_without_regard_to_case_or_spaces():
    assert chat_config().api_base == "https://adminapiusa.im.qcloud.com"


@override_settings(**COMPLETE)
def test_unset_rate_limit_means_chats_documented_rate():
    assert chat_config().rate_limit == protocol.CALLS_PER_SECOND_MAX


@override_settings(**{**COMPLETE, "CHAT_RATE_LIMIT": 50.0})
def test_rate_limit_setting_is_used():
    assert chat_config().rate_limit == 50.0


@override_settings(
    CHAT_SDKAPPID=0, CHAT_SECRET_KEY="", CHAT_ADMIN_IDENTIFIER="", CHAT_REGION="", CHAT_API_BASE_URL=""
)
def test_missing_settings_are_named_together_in_one_message():
    with pytest.raises(ImproperlyConfigured) as caught:
        chat_config()

    message = str(caught.value)
    for name in ("CHAT_SDKAPPID", "CHAT_SECRET_KEY", "CHAT_ADMIN_IDENTIFIER", "CHAT_REGION or CHAT_API_BASE_URL"):
        assert name in message


@override_settings(**{**COMPLETE, "CHAT_REGION": "atlantis"})
def test_unknown_region_is_refused_with_the_known_ones():
    with pytest.raises(ImproperlyConfigured, match="china, singapore, seoul, tokyo, frankfurt, silicon-valley"):
        chat_config()


@override_settings(**{**COMPLETE, "CHAT_API_BASE_URL": "127.0.0.1:8081"})
def test_invalid_setting_message_does_not_show_the_secret_key():
    with pytest.raises(ImproperlyConfigured) as caught:
        chat_config()

    assert "base_url" in str(caught.value)
    assert "conf-test-secret-key" not in str(caught.value)


@override_settings(**COMPLETE)
def test_overrides_win_over_settings():
    config = chat_config(base_url="http://127.0.0.1:9999", max_retries=0)

    assert (config.api_base, config.max_retries) == ("http://127.0.0.1:9999", 0)


def test_settings_are_read_when_called_not_at_import():
    with override_settings(**{**COMPLETE, "CHAT_SDKAPPID": 1400000003}):
        first = chat_config()
    with override_settings(**{**COMPLETE, "CHAT_SDKAPPID": 1400000004}):
        second = chat_config()

    assert (first.sdkappid, second.sdkappid) == (1400000003, 1400000004)


@override_settings(**COMPLETE)
def test_chat_client_builds_a_client_with_hook_and_overrides():
    def hook(record):
        pass

    client = chat_client(on_call=hook, read_timeout=2.0)

    assert isinstance(client, ChatClient)
    assert client.on_call is hook
    assert client.config.read_timeout == 2.0
