"""Fixtures of the Chat layer: a fresh Chat sandbox per test, with the test settings' app credentials."""

import pytest
from django.conf import settings

from contactgroups.chat.sandbox import SandboxServer


@pytest.fixture
def make_sandbox():
    """Start sandboxes with the test app's credentials and any SandboxServer options; stop them all at the end."""
    started = []

    def make(**options):
        server = SandboxServer(
            settings.CHAT_SDKAPPID, settings.CHAT_SECRET_KEY, settings.CHAT_ADMIN_IDENTIFIER, **options
        ).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def sandbox(make_sandbox):
    """A running sandbox on a free loopback port, empty, without faults; stopped after the test."""
    return make_sandbox()
