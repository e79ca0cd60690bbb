"""A user's recent conversations in Chat, read one page at a time for a staff page that offers them to pick from.

The read happens while the staff wait, as the group page's comparison does (``sync.page_reading.read_for_page``): within
SYNC_PAGE_READ_TIMEOUT for the whole answer (``conf.page_read_client``), with no retry, each call audited as a
SyncAttempt under the staff user.
"""


from contactgroups.chat.conversation_list import ListCursor, RecentConversationPage
from contactgroups.conf import app_settings, page_read_client
from contactgroups.models import ContactGroup
from contactgroups.sync.audit import AuditRecorder


class PageReadsOff(Exception):
    """The site reads nothing from Chat as a page asks (SYNC_PAGE_READ_TIMEOUT is 0)."""


def read_recent_page(owner_user_id: str, cursor: ListCursor | None, actor_id: int | None,
                     group: ContactGroup | None = None) -> RecentConversationPage:
    """One page of ``owner_user_id``'s conversation list from ``cursor`` (None: the first page).

    Chat's errors, ChatTooSlowError and ChatAnswerTooLargeError included, propagate; PageReadsOff when the page
    timeout is 0. ``group`` is the group the page edits, for the audit (None on a group not saved yet).
    """
    if not app_settings.SYNC_PAGE_READ_TIMEOUT:
        raise PageReadsOff()
    recorder = AuditRecorder(actor_id, owner_user_id, group, page_read=True)
    with page_read_client(recorder) as client:
        return client.get_list_page(owner_user_id, cursor)
