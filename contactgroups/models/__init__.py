"""The app's models: the mirror of Chat (``mirror``), the audit of its calls (``audit``) and their counts a minute
(``health``), staff preferences."""

from contactgroups.models.audit import SyncAttempt, SyncAttemptRefusal
from contactgroups.models.health import CallMinute, RefusalMinute
from contactgroups.models.mirror import (
    ChatUser,
    ChatUserQuerySet,
    ContactGroup,
    ContactGroupQuerySet,
    ContactItem,
    ContactItemQuerySet,
)
from contactgroups.models.preferences import StaffPreference

__all__ = [
    "CallMinute", "RefusalMinute",
    "ChatUser", "ChatUserQuerySet", "ContactGroup", "ContactGroupQuerySet", "ContactItem", "ContactItemQuerySet",
    "StaffPreference", "SyncAttempt", "SyncAttemptRefusal",
]
