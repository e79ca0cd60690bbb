"""The permissions that syncing, pulling and importing need, named once for the admin and the commands."""

SYNC_PERMISSION = "contactgroups.sync_contactgroup"
PULL_PERMISSION = "contactgroups.pull_contactgroup"
IMPORT_USERS_PERMISSION = "contactgroups.import_chatuser"
ADD_USER_PERMISSION = "contactgroups.add_chatuser"
ADD_GROUP_PERMISSION = "contactgroups.add_contactgroup"
VIEW_GROUP_PERMISSION = "contactgroups.view_contactgroup"
