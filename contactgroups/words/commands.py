"""What every operator command says: its lists and clauses, who it acts as, its progress lines, why it stopped.

The commands (``contactgroups/management``) hand these functions their data; each command's own sentences are in
the module of its subject (``imports``, ``pull``, ``drift``, ``runs``).
"""

from collections.abc import Iterable

from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext


def clauses(parts: Iterable[str]) -> str:
    """Independent clauses of one sentence, one after the other ("1 row refused; 2 users not in Chat")."""
    return pgettext("separator between clauses", "; ").join(parts)


def list_items(parts: Iterable[str]) -> str:
    """The items of a list inside a sentence ("2 synced, 1 failed")."""
    return pgettext("separator between list items", ", ").join(parts)


def state_counts_text(counts: Iterable[tuple[int, str]]) -> str:
    """"2 synced, 1 failed": how many groups ended in each state (count, the state's label), "" for none."""
    return list_items(_("%(count)d %(state)s") % {"count": count, "state": str(label).lower()}
                      for count, label in counts)


def no_actor_text() -> str:
    return _("Name the staff user you act as with --actor USERNAME.")


def _quoted(username: str) -> dict:
    return {"username": repr(username)}  # as Python quotes it, so a name with spaces or quotes reads plainly


def unknown_actor_text(username: str) -> str:
    return _("There is no user named %(username)s.") % _quoted(username)


def inactive_actor_text(username: str) -> str:
    return _("The user %(username)s is not active.") % _quoted(username)


def not_staff_text(username: str) -> str:
    return _("The user %(username)s is not staff; only staff users may act on Chat.") % _quoted(username)


def missing_permissions_text(username: str, missing: list[tuple[str, str]]) -> str:
    """The permissions ``username`` lacks, each as (its readable name, ``app_label.codename``)."""
    listed = clauses(_("“%(name)s” (%(permission)s)") % {"name": name, "permission": permission}
                     for name, permission in missing)
    return ngettext(
        "The user %(username)s lacks the permission to do this: %(permissions)s.",
        "The user %(username)s lacks the permissions to do this: %(permissions)s.",
        len(missing),
    ) % {**_quoted(username), "permissions": listed}


def unknown_owners_text(user_ids: list[str]) -> str:
    return ngettext("No Chat user with UserID %(user_ids)s.", "No Chat users with UserIDs %(user_ids)s.",
                    len(user_ids)) % {"user_ids": ", ".join(user_ids)}


def problems_above_text(problems: list[str]) -> str:
    """A command's last line when something failed: each problem, the details having been printed above."""
    return _("%(problems)s; see the lines above.") % {"problems": clauses(problems)}


def progress_text(unit: str, label: str, done: int, total: int | None, failed: int, rate: float) -> str:
    """A plain progress line: "sync_contact_groups: 3/10 groups (30%), 0 failed, 4.2 groups/s"."""
    params = {"label": label, "done": done, "total": total or 0, "failed": failed, "rate": rate,
              "percent": 100 * done // total if total else 0}
    if unit == "user":
        if total:
            return ngettext("%(label)s: %(done)d/%(total)d user (%(percent)d%%), %(failed)d failed, "
                            "%(rate).1f users/s",
                            "%(label)s: %(done)d/%(total)d users (%(percent)d%%), %(failed)d failed, "
                            "%(rate).1f users/s", total) % params
        return ngettext("%(label)s: %(done)d user, %(failed)d failed, %(rate).1f users/s",
                        "%(label)s: %(done)d users, %(failed)d failed, %(rate).1f users/s", done) % params
    if total:
        return ngettext("%(label)s: %(done)d/%(total)d group (%(percent)d%%), %(failed)d failed, "
                        "%(rate).1f groups/s",
                        "%(label)s: %(done)d/%(total)d groups (%(percent)d%%), %(failed)d failed, "
                        "%(rate).1f groups/s", total) % params
    return ngettext("%(label)s: %(done)d group, %(failed)d failed, %(rate).1f groups/s",
                    "%(label)s: %(done)d groups, %(failed)d failed, %(rate).1f groups/s", done) % params


def cannot_read_text(file: str, reason: str) -> str:
    return _("Cannot read %(file)s: %(reason)s.") % {"file": file, "reason": reason}


def cannot_write_text(file: str, reason: str) -> str:
    return _("Cannot write %(file)s: %(reason)s.") % {"file": file, "reason": reason}


def nothing_changed_text(error) -> str:
    """A file refused as a whole (``error`` says why): nothing was changed."""
    return _("%(error)s Nothing was changed.") % {"error": error}


def exported_text(groups: int, rows: int) -> str:
    """The last line of ``export_contact_groups``."""
    return _("Exported %(groups)s in %(rows)s.") % {
        "groups": ngettext("%(count)d group", "%(count)d groups", groups) % {"count": groups},
        "rows": ngettext("%(count)d row", "%(count)d rows", rows) % {"count": rows},
    }


def superuser_text(username: str, *, exists: bool = False, password: str | None = None,
                   from_environment: bool = False) -> str:
    """What ``ensure_superuser`` did: the account was there, or made with the environment's or a new password."""
    if from_environment:
        return _("Created admin account “%(username)s” with the password from DJANGO_SUPERUSER_PASSWORD.") % {
            "username": username}
    if exists:
        said = _("Admin account “%(username)s” already exists; its password is unchanged.") % {"username": username}
    else:
        said = _("Created admin account “%(username)s”. Its password, shown only this once: %(password)s") % {
            "username": username, "password": password}
    # The password is not shown again: how to set one.
    return said + "\n" + _("To set a new password: .venv/bin/python manage.py changepassword %(username)s") % {
        "username": username}
