"""The admin support staff use to manage Chat users and their conversation groups.

Syncing, pulling and importing each need their own permission; a view-only staff user sees everything, history
and audit included, and changes nothing. Importing the modules registers their ModelAdmins.
"""

from contactgroups.admin import audit, groups, users  # noqa: F401
