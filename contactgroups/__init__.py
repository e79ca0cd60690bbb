"""contactgroups: the Django app that mirrors Tencent Cloud Chat conversation groups and syncs them to Chat."""
