"""The app's models: the mirror of Chat (``mirror``), the audit of its calls (``audit``) and their counts a minute
(``health``), the versions Chat confirmed (``versions``), staff preferences."""

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
from contactgroups.models.versions import GroupVersion

__all__ = [
    "CallMinute", "RefusalMinute",
    "ChatUser", "ChatUserQuerySet", "ContactGroup", "ContactGroupQuerySet", "ContactItem", "ContactItemQuerySet",
    "GroupVersion", "StaffPreference", "SyncAttempt", "SyncAttemptRefusal",
]
