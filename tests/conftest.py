"""Fixtures shared by the whole suite."""

import pytest

from contactgroups.models import ChatUser, ContactGroup, ContactItem


@pytest.fixture
def owner(db):
    return ChatUser.objects.create(user_id="user_0001", nickname="Alice")


@pytest.fixture
def make_group(db):
    """Create a group straight in the database, bypassing the forms."""

    def make(owner, name, conversations=(), **fields):
        group = ContactGroup.objects.create(owner=owner, name=name, **fields)
        ContactItem.objects.bulk_create(
            ContactItem(
                group=group,
                type=kind,
                to_account=target if kind == ContactItem.Type.C2C else "",
                to_group_id=target if kind == ContactItem.Type.GROUP else "",
            )
            for kind, target in conversations
        )
        return group

    return make


@pytest.fixture
def chat_sandbox(settings):
    """A running Chat sandbox the whole project talks to (CHAT_API_BASE_URL points at it)."""
    from contactgroups.chat.sandbox import SandboxServer

    server = SandboxServer(settings.CHAT_SDKAPPID, settings.CHAT_SECRET_KEY, settings.CHAT_ADMIN_IDENTIFIER).start()
    settings.CHAT_API_BASE_URL = server.base_url
    settings.CELERY_BROKER_URL = ""
    yield server
    server.stop()


@pytest.fixture
def staff(django_user_model):
    """A superuser acting in the admin."""
    return django_user_model.objects.create_superuser("support", password="support-password")
