"""What every operator command shares: it acts as a named staff user, reports progress, counts in words.

The commands in ``commands/`` are thin over this and over ``contactgroups.bulk`` and ``contactgroups.imports``.
Only the commands import it, so the web process never loads tqdm nor Django's command machinery.
"""

import time
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from contactgroups.models import ChatUser


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """``number`` with the noun in the right form: "1 group", "2 groups" (the commands' summaries)."""
    return f"{number} {singular if number == 1 else (plural or singular + 's')}"


class ActorRefused(Exception):
    """The named user may not do what a command asks; the message says why."""


def find_actor(username: str, *permissions: str):
    """The active staff user ``username`` holding every one of ``permissions``, or ActorRefused saying why.

    Commands act under this user: the audit (SyncAttempt) and the admin history (LogEntry) name them.
    """
    if not username:
        raise ActorRefused("Name the staff user you act as with --actor USERNAME.")
    User = get_user_model()
    try:
        user = User._default_manager.get_by_natural_key(username)
    except User.DoesNotExist:
        raise ActorRefused(f"There is no user named {username!r}.") from None
    if not user.is_active:
        raise ActorRefused(f"The user {username!r} is not active.")
    if not user.is_staff:
        raise ActorRefused(f"The user {username!r} is not staff; only staff users may act on Chat.")
    missing = [permission for permission in permissions if not user.has_perm(permission)]
    if missing:
        raise ActorRefused(
            f"The user {username!r} lacks the permission to do this: "
            + "; ".join(f"“{permission_name(permission)}” ({permission})" for permission in missing)
            + "."
        )
    return user


def permission_name(permission: str) -> str:
    """The readable name of ``app_label.codename``, as the admin shows it."""
    app_label, codename = permission.split(".", 1)
    name = (
        Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        .values_list("name", flat=True)
        .first()
    )
    return name or permission


class ActorCommand(BaseCommand):
    """A management command that acts under a staff user's name (``--actor``), with the admin's permissions.

    Subclasses name the permissions in ``permissions``; ``self.actor(options)`` returns the user or stops
    the command with a CommandError saying why not.
    """

    permissions: tuple[str, ...] = ()

    def add_arguments(self, parser):
        parser.add_argument(
            "--actor", required=True, metavar="USERNAME",
            help="The active staff user you act as; the audit and the admin history name them, and they need "
                 "the permission the matching admin action needs.",
        )

    def actor(self, options, *more_permissions: str):
        try:
            return find_actor(options["actor"], *self.permissions, *more_permissions)
        except ActorRefused as exc:
            raise CommandError(str(exc)) from None

    def require_known_owners(self, user_ids: Iterable[str]) -> None:
        """Stop the command with a CommandError naming the UserIDs in ``user_ids`` that no ChatUser has."""
        user_ids = list(dict.fromkeys(user_ids))
        known = set(ChatUser.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
        unknown = [user_id for user_id in user_ids if user_id not in known]
        if unknown:
            raise CommandError(f"No Chat user with UserID {', '.join(unknown)}.")

    def fail_if(self, problems: list[str]) -> None:
        """Exit non-zero, naming each problem, when there are any (the details were printed above)."""
        if problems:
            raise CommandError("; ".join(problems) + "; see the lines above.", returncode=1)

    def progress(self, total: int | None, label: str, unit: str) -> "ProgressReporter":
        """A progress bar on stderr when it is a terminal, plain progress lines there otherwise."""
        return ProgressReporter(self.stderr, total, label, unit)


class RawStream:
    """A file-like face for a Django OutputWrapper: writes pass through unchanged (no added newline or colour)."""

    def __init__(self, wrapper):
        self._wrapper = wrapper

    def write(self, text: str) -> None:
        self._wrapper.write(text, style_func=lambda message: message, ending="")

    def flush(self) -> None:
        self._wrapper.flush()

    def isatty(self) -> bool:
        return self._wrapper.isatty()


class ProgressReporter:
    """Progress of a command: a tqdm bar on a terminal, plain lines otherwise (logs, pipes, CI).

    Plain lines come at every tenth of the work and at least every ``interval`` seconds, and always at the
    end, so a log shows a run that is moving without drowning in it. ``stream`` is a Django OutputWrapper
    (a command's ``self.stderr``) or any text stream.
    """

    def __init__(self, stream, total: int | None, label: str, unit: str = "item", interval: float = 5.0):
        self.stream = RawStream(stream) if hasattr(stream, "style_func") else stream
        self.total = total
        self.label = label
        self.unit = unit
        self.interval = interval
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self._last_line = self.started
        self._last_done = 0
        self._step = max(1, (total or 0) // 10)
        isatty = getattr(self.stream, "isatty", None)
        self.bar = (
            tqdm(total=total, desc=label, unit=unit, file=self.stream, dynamic_ncols=True, leave=True)
            if isatty and isatty()
            else None
        )

    def advance(self, count: int = 1, failed: int = 0) -> None:
        """Count ``count`` more items done, ``failed`` of them failed."""
        self.done += count
        self.failed += failed
        if self.bar is not None:
            self.bar.update(count)
            if self.failed:
                self.bar.set_postfix(failed=self.failed, refresh=False)
            return
        now = time.monotonic()
        if self.done // self._step != self._last_done // self._step or now - self._last_line >= self.interval:
            self._line(now)

    def _line(self, now: float) -> None:
        self._last_line, self._last_done = now, self.done
        elapsed = max(now - self.started, 1e-9)
        of_total = f"/{self.total}" if self.total is not None else ""
        share = f" ({100 * self.done // self.total}%)" if self.total else ""
        self.stream.write(
            f"{self.label}: {self.done}{of_total} {self.unit}s{share}, {self.failed} failed, "
            f"{self.done / elapsed:.1f} {self.unit}s/s\n"
        )
        self.stream.flush()

    def note(self, line: str, out) -> None:
        """Write ``line`` to ``out`` (a command's stdout); on a terminal the bar steps aside for it."""
        if self.bar is not None and out.isatty():
            self.bar.clear()
            out.write(line)
            self.bar.refresh()
        else:
            out.write(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.done != self._last_done or self.done == 0:
            self._line(time.monotonic())

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started
