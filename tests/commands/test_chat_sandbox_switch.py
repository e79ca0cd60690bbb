"""`chat_sandbox stop|start|status`: the sandbox `make run` started is taken down and brought back on its own, the
rest running on; meanwhile a call to it is refused and the health page says Chat cannot be reached."""

import io
import os
import re
import select
import socket
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from contactgroups import sync
from contactgroups.chat import errors, protocol
from contactgroups.chat.sandbox import switch as switch_module
from contactgroups.models import ChatUser, ContactGroup
from tests.services import ROOT

C2C = protocol.TYPE_C2C


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sandbox_process(tmp_path, settings):
    """The sandbox as the Procfile starts it (its own process, a state file), the app's CHAT_API_BASE_URL on it;
    yields (process, port)."""
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "imadmin.settings", "SECRET_KEY": settings.SECRET_KEY,
           "CHAT_SDKAPPID": str(settings.CHAT_SDKAPPID), "CHAT_SECRET_KEY": settings.CHAT_SECRET_KEY,
           "CHAT_ADMIN_IDENTIFIER": settings.CHAT_ADMIN_IDENTIFIER}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "chat_sandbox", "--host", "127.0.0.1", "--port", str(port), "--state",
         str(tmp_path / "chat-sandbox.json")], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the sandbox printed nothing within 20 seconds"
        assert f"listening on http://127.0.0.1:{port}" in process.stdout.readline()
        settings.CHAT_API_BASE_URL = f"http://127.0.0.1:{port}"
        settings.CELERY_BROKER_URL = ""
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=10)


def switch(*args) -> str:
    out = io.StringIO()
    call_command("chat_sandbox", *args, stdout=out)
    return out.getvalue()


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.django_db(transaction=True)  # the import's task runs in a thread of its own, on its own connection
def test_stop_refuses_calls_the_health_page_says_so_and_start_answers_them_again(sandbox_process, owner, make_group,
                                                                                 staff, admin_client):
    process, port = sandbox_process
    health = reverse("admin:contactgroups_health")
    ChatUser.objects.create(user_id="user_0002")
    call_command("import_chat_users", "--unimported", "--actor", staff.username, stdout=io.StringIO())
    sync.sync_group(make_group(owner, "work", [(C2C, "user_0002")]).pk, staff.pk)
    assert "Chat was last reached at" in admin_client.get(health).content.decode()

    said = switch("stop")  # the port is CHAT_API_BASE_URL's, as right after make run
    assert f"The Chat sandbox on http://127.0.0.1:{port} is down: calls to it are refused" in said
    assert refused(port)
    with pytest.raises(errors.ChatConnectError):
        sync.sync_group(make_group(owner, "while down", [(C2C, "user_0002")]).pk, staff.pk)
    page = admin_client.get(health).content.decode()
    assert "Chat cannot be reached: no call has reached it since" in " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "is down" in switch("status")
    assert process.poll() is None  # the sandbox's process runs on: nothing else make run started is stopped

    assert f"The Chat sandbox on http://127.0.0.1:{port} is listening" in switch("start")
    assert not refused(port)
    sync.sync_group(ContactGroup.objects.get(name="while down").pk, staff.pk)
    assert ContactGroup.objects.get(name="while down").state == ContactGroup.State.SYNCED
    assert "Chat was last reached at" in admin_client.get(health).content.decode()
    # Its state was kept while down: the group synced before is still in Chat, with GroupIds going on after it.
    assert sorted(g.sync.chat_group_id for g in ContactGroup.objects.filter(owner=owner)) == [1, 2]
    assert "is listening" in switch("status", "--port", str(port))


def test_the_switch_says_when_no_sandbox_serves_the_port():
    port = free_port()
    with pytest.raises(CommandError, match=f"No Chat sandbox process serves port {port} here"):
        switch("stop", "--port", str(port))


@pytest.mark.skipif(os.getuid() != 0, reason="needs root, to run the caller as another user")
def test_another_user_of_the_machine_cannot_take_the_sandbox_down(sandbox_process):
    """A caller of another user id (``nobody``, with the system's Python: the project's may not be readable to it)
    sends what `chat_sandbox stop` sends; the sandbox refuses and keeps listening."""
    _process, port = sandbox_process
    script = ("import socket; s = socket.socket(socket.AF_UNIX); "
              f"s.connect({switch_module.address(port)!r}); s.sendall(b'stop\\n'); print(s.makefile().readline())")
    result = subprocess.run(["/usr/bin/python3", "-c", script], user="nobody", capture_output=True, text=True,
                            timeout=30, cwd="/")
    assert "refused: another user" in result.stdout, result.stderr
    assert not refused(port)
