"""A typed client for the Tencent Cloud Chat REST API: conversation groups, marks, conversations, accounts.

One method per endpoint, dataclasses in and out. Every call goes through one pipeline:

    validate (ValueError, nothing sent) -> wait for the rate limiter -> POST with an admin UserSig
    -> read the answer within the deadline and size limit -> parse it -> report a CallRecord to ``on_call``
    -> return, retry or raise a ChatError.

The endpoints come in three families, each in its own module: ``contact_groups`` (create, rename, update, delete,
get, search), ``conversation_list`` (get_list, mark_contact, delete_conversation) and ``accounts`` (import and
check). Each checks its requests (``checks``) and builds their bodies; ``transport`` sends them (and holds the
error and retry policy), and the answers are read into ``types`` and the families' own types. Chat's JSON field
names (``From_Account``, ``ToGroupId``, ...) and its spelling quirks stay in this package.
"""

import time
from collections.abc import Callable

import requests

from contactgroups.chat.accounts import AccountCalls
from contactgroups.chat.config import ChatConfig
from contactgroups.chat.contact_groups import ContactGroupCalls
from contactgroups.chat.conversation_list import ConversationListCalls
from contactgroups.chat.record import CallRecord
from contactgroups.chat.transport import Transport


class ChatClient(ContactGroupCalls, ConversationListCalls, AccountCalls):
    """Calls one Chat app's REST API as its administrator.

    ``on_call`` receives a CallRecord after every HTTP attempt (each page, each retry); an exception it raises
    propagates. ``session`` replaces the pooled ``requests.Session`` the client makes. ``clock`` (seconds since
    the epoch) and ``sleep`` (used between retries) exist for tests. See ``transport`` for the error and
    retry policy.
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
        self._transport = Transport(config, on_call=on_call, session=session, clock=clock, sleep=sleep)

    @property
    def on_call(self) -> Callable[[CallRecord], None] | None:
        return self._transport.on_call

    @on_call.setter
    def on_call(self, hook: Callable[[CallRecord], None] | None) -> None:
        self._transport.on_call = hook

    def admin_usersig(self) -> str:
        """The administrator's UserSig, made from the config and renewed well before it expires."""
        return self._transport.admin_usersig()

    def within(self, seconds: float):
        """A block in which every call this thread makes ends within ``seconds`` from now, each page and retry
        included: ``with client.within(1.5): client.get_contact_group(owner)``. Past it, ChatTooSlowError."""
        return self._transport.within(seconds)

    def __repr__(self) -> str:
        return (
            f"ChatClient(sdkappid={self.config.sdkappid}, admin_identifier={self.config.admin_identifier!r}, "
            f"api_base={self.config.api_base!r})"
        )

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "ChatClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
