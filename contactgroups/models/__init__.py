"""The app's models: the mirror of Chat (``mirror``), the audit of its calls (``audit``), staff preferences."""

from contactgroups.models.audit import SyncAttempt, SyncAttemptRefusal
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
    "ChatUser", "ChatUserQuerySet", "ContactGroup", "ContactGroupQuerySet", "ContactItem", "ContactItemQuerySet",
    "StaffPreference", "SyncAttempt", "SyncAttemptRefusal",
]
