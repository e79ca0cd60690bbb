"""contactgroups.conf: the app's settings, each with its default in one place and read when used, and the Chat
configuration built from them."""

import ast
import re

import pytest
from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from contactgroups.chat import protocol
from contactgroups.chat.client import ChatClient
from contactgroups.conf import NAMES, app_settings, chat_client, chat_config, default
from contactgroups.conf import AppSettings as AppSettingsFacade
from tests.services import ROOT

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


DJANGOS_OWN = {name for name in dir(global_settings) if name.isupper()}


def bare_reads(source: str) -> list[str]:
    """The settings ``source`` reads from django.conf.settings that are not Django's own, as ``line: NAME``."""
    tree = ast.parse(source)
    aliases = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and node.module == "django.conf" for alias in node.names if alias.name == "settings"}
    reads = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Attribute) and node.attr.isupper():
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in aliases or ast.unparse(owner) == "django.conf.settings":
                name = node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and (isinstance(node.args[0], ast.Name) and node.args[0].id in aliases
                   or ast.unparse(node.args[0]) == "django.conf.settings")):
            name = node.args[1].value
        if name and name not in DJANGOS_OWN:
            reads.append(f"{node.lineno}: {name}")
    return reads


def test_the_check_finds_a_bare_read_of_an_app_setting():
    source = ("from django.conf import settings\nimport django.conf\nfrom django.conf import settings as s\n"
              "a = settings.SYNC_MAX_ATTEMPTS\nb = getattr(s, 'CHAT_RATE_LIMIT', None)\n"
              "c = django.conf.settings.CELERY_BROKER_URL\nd = settings.LANGUAGES\n")
    assert bare_reads(source) == ["4: SYNC_MAX_ATTEMPTS", "5: CHAT_RATE_LIMIT", "6: CELERY_BROKER_URL"]


def test_no_module_reads_an_app_setting_but_through_conf():
    """Django's own settings (LANGUAGES, AUTH_USER_MODEL...) are read from django.conf.settings; every other one
    through contactgroups.conf.app_settings, where its default is."""
    modules = [path for path in (ROOT / "contactgroups").rglob("*.py")
               if "migrations" not in path.parts and path.name != "conf.py"]
    found = [f"{path.relative_to(ROOT)}:{read}" for path in modules for read in bare_reads(path.read_text())]
    # The project (imadmin/) reads its own settings and axes'; the app's, through conf too.
    found += [f"{path.relative_to(ROOT)}:{read}" for path in (ROOT / "imadmin").glob("*.py")
              if path.name != "settings.py" for read in bare_reads(path.read_text())
              if read.split(": ")[1] in NAMES]
    assert found == []


def test_the_project_settings_take_each_app_default_from_conf():
    """imadmin/settings.py writes no default of an app setting: it reads the environment with conf's."""
    tree = ast.parse((ROOT / "imadmin" / "settings.py").read_text())
    written = [f"{node.lineno}: {node.args[0].value}" for node in ast.walk(tree)
               if isinstance(node, ast.Call) and ast.unparse(node.func).startswith("env.") and node.args
               and isinstance(node.args[0], ast.Constant) and node.args[0].value in NAMES
               and any(isinstance(part, ast.Constant) for keyword in node.keywords if keyword.arg == "default"
                       for part in ast.walk(keyword.value))]
    assert written == []
    from_conf = {node.args[1].value for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and ast.unparse(node.func) == "app_setting" and isinstance(node.args[1], ast.Constant)}
    assert from_conf == NAMES - {"CELERY_BROKER_TRANSPORT_OPTIONS", "SYNC_STRANDED_SECONDS"}


def test_every_app_setting_says_what_it_means_and_the_environment_example_names_it():
    example = (ROOT / ".env.example").read_text()
    set_by_the_project = {"CELERY_BROKER_TRANSPORT_OPTIONS"}  # from CELERY_VISIBILITY_TIMEOUT and the timeouts
    for name in NAMES:
        assert vars(AppSettingsFacade)[name].meaning, name
        assert name in set_by_the_project or re.search(rf"^(# )?{name}=", example, re.MULTILINE), name


def test_the_configuration_table_names_only_variables_the_settings_read():
    """imadmin/settings.py's, and gunicorn's in deploy/gunicorn.conf.py."""
    table = (ROOT / "docs" / "configuration.md").read_text()
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    named = {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}
    read = set(re.findall(r'env\.\w+\("([A-Z0-9_]+)"|app_setting\(env\.\w+, "([A-Z0-9_]+)"',
                          (ROOT / "imadmin" / "settings.py").read_text()))
    read = {name for pair in read for name in pair if name}
    # gunicorn's own settings, read by deploy/gunicorn.conf.py.
    read |= set(re.findall(r'os\.environ\.get\("([A-Z0-9_]+)"', (ROOT / "deploy" / "gunicorn.conf.py").read_text()))
    assert named and named <= read, sorted(named - read)


def test_an_override_is_read_when_used_and_an_unset_setting_reads_its_default(settings):
    settings.CHAT_REGION, settings.CHAT_API_BASE_URL = "singapore", ""
    settings.SYNC_PAGE_READ_TIMEOUT = 0.25
    settings.CHAT_RATE_LIMIT = 50.0
    assert (app_settings.SYNC_PAGE_READ_TIMEOUT, chat_config().rate_limit) == (0.25, 50.0)

    del settings.SYNC_MAX_ATTEMPTS, settings.CHAT_RATE_LIMIT, settings.SYNC_CALL_DEADLINE
    assert (app_settings.SYNC_MAX_ATTEMPTS, chat_config().rate_limit, chat_config().deadline) == (
        default("SYNC_MAX_ATTEMPTS"), protocol.CALLS_PER_SECOND_MAX, 30.0)
    assert default("SYNC_MAX_ATTEMPTS") == 10

