"""Safe defaults: the example configuration keeps DEBUG off, no secret key lives in the source, `make run` writes
its own, and management commands print only what they mean to.

Each runs the project in a subprocess with only the environment it is given, as a deployment or `make run` would.
"""

import ast
import sys

from tests.make_run import ROOT, clean_env, make_env, make_run_env, run


def settings_of(env, *expressions) -> list[str]:
    """What each Python expression over ``settings`` prints in a process started with ``env``."""
    code = "import django; django.setup(); from django.conf import settings; " + "; ".join(
        f"print({expression})" for expression in expressions)
    result = run([sys.executable, "-c", code], env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_example_configuration_keeps_debug_off(tmp_path):
    example = (ROOT / ".env.example").read_text().splitlines()
    assert "DEBUG=false" in example and not [line for line in example if line.startswith("DEBUG=") and
                                             line != "DEBUG=false"]
    copied = tmp_path / ".env"
    copied.write_text((ROOT / ".env.example").read_text().replace("SECRET_KEY=\n", "SECRET_KEY=" + "k" * 60 + "\n"))
    debug, cookie_secure = settings_of(clean_env(IMADMIN_ENV_FILE=str(copied)), "settings.DEBUG",
                                        "settings.SESSION_COOKIE_SECURE")
    assert (debug, cookie_secure) == ("False", "True")


def test_with_debug_on_and_no_secret_key_the_settings_refuse_to_start(tmp_path):
    result = run([sys.executable, "manage.py", "check"], clean_env(DEBUG="true"))
    assert result.returncode != 0
    assert "Set SECRET_KEY in the environment or in .env" in result.stderr


def test_no_secret_key_is_written_in_the_settings():
    tree = ast.parse((ROOT / "imadmin" / "settings.py").read_text())
    assigned = [node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                and any(isinstance(target, ast.Name) and target.id == "SECRET_KEY" for target in node.targets)]
    assert assigned and not [value for value in assigned if isinstance(value, ast.Constant)]


def test_make_run_writes_debug_on_and_a_new_key_readable_only_by_its_owner(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        (folder / ".env.example").write_text((ROOT / ".env.example").read_text())
        assert make_env.main(folder) == 0
    lines = (first / ".env").read_text().splitlines()
    keys = [line.removeprefix("SECRET_KEY=") for line in lines if line.startswith("SECRET_KEY=")]
    assert "DEBUG=true" in lines and len(keys) == 1 and len(keys[0]) >= 50
    assert keys[0] not in (second / ".env").read_text()
    assert (first / ".env").stat().st_mode & 0o777 == 0o600
    debug, key_length = settings_of(clean_env(IMADMIN_ENV_FILE=str(first / ".env")), "settings.DEBUG",
                                      "len(settings.SECRET_KEY)")
    assert (debug, key_length) == ("True", str(len(keys[0])))


def test_make_run_leaves_an_existing_env_file_alone(tmp_path):
    (tmp_path / ".env.example").write_text((ROOT / ".env.example").read_text())
    (tmp_path / ".env").write_text("SECRET_KEY=mine\n")
    assert make_env.main(tmp_path) == 0
    assert (tmp_path / ".env").read_text() == "SECRET_KEY=mine\n"


def test_a_management_command_prints_only_its_own_output(tmp_path):
    env = make_run_env(tmp_path)
    assert run([sys.executable, "manage.py", "migrate", "--noinput"], env).returncode == 0
    result = run([sys.executable, "manage.py", "ensure_superuser"], env)
    assert result.returncode == 0
    assert result.stdout == "Created admin account “admin” with the password from DJANGO_SUPERUSER_PASSWORD.\n"
    assert result.stderr == ""


def test_make_run_on_another_sandbox_port_sets_it_in_an_existing_env_file_and_nothing_else(tmp_path, capsys):
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=mine\nCHAT_API_BASE_URL=http://127.0.0.1:8081\nLOG_LEVEL=INFO\n")
    assert make_env.main(tmp_path, {"SANDBOX_PORT": "8381"}) == 0
    assert env_file.read_text() == "SECRET_KEY=mine\nCHAT_API_BASE_URL=http://127.0.0.1:8381\nLOG_LEVEL=INFO\n"
    assert capsys.readouterr().out == ("Set CHAT_API_BASE_URL in .env to http://127.0.0.1:8381, where the Chat "
                                       "sandbox starts (it was on port 8081).\n")
    # Real Chat's address is not the sandbox's: left as it is.
    env_file.write_text("CHAT_API_BASE_URL=https://adminapisgp.im.qcloud.com\n")
    assert make_env.main(tmp_path, {"SANDBOX_PORT": "8381"}) == 0
    assert env_file.read_text() == "CHAT_API_BASE_URL=https://adminapisgp.im.qcloud.com\n"
