"""What every operator command shares: it acts as a named staff user, reports progress, says why things failed.

The commands in ``commands/`` are thin over this and over ``contactgroups.bulk`` and ``contactgroups.imports``.
Only the commands import it, so the web process never loads tqdm nor Django's command machinery. Everything
they print is translated when it is written, into the language of LANGUAGE_CODE (or the one active).
"""

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from tqdm import tqdm

from contactgroups import words
from contactgroups.engine import Stalled, stall_seconds
from contactgroups.models import ChatUser, ContactGroup


def state_counts(counts: dict[str, int]) -> str:
    """"2 synced, 1 failed": how many groups ended in each state that any did, in the states' order; "" for none."""
    return words.state_counts_text((counts[state], ContactGroup.State(state).label)
                                   for state in ContactGroup.State.values if counts.get(state))


def failure_text(failure: dict) -> str:
    """Why something stopped, for staff, from its data (``sync.outcome.reported_failure``): the project's words for
    a Chat failure, the exception's own text for a bug."""
    if failure["kind"] == "internal":
        return failure.get("detail") or failure.get("type", "")
    return words.error_text(failure)


class ActorRefused(Exception):
    """The named user may not do what a command asks; the message says why."""


def find_actor(username: str, *permissions: str):
    """The active staff user ``username`` holding every one of ``permissions``, or ActorRefused saying why.

    Commands act under this user: the audit (SyncAttempt) and the admin history (LogEntry) name them.
    """
    if not username:
        raise ActorRefused(words.no_actor_text())
    User = get_user_model()
    try:
        user = User._default_manager.get_by_natural_key(username)
    except User.DoesNotExist:
        raise ActorRefused(words.unknown_actor_text(username)) from None
    if not user.is_active:
        raise ActorRefused(words.inactive_actor_text(username))
    if not user.is_staff:
        raise ActorRefused(words.not_staff_text(username))
    missing = [permission for permission in permissions if not user.has_perm(permission)]
    if missing:
        raise ActorRefused(words.missing_permissions_text(
            username, [(permission_name(permission), permission) for permission in missing]))
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


class TranslatedCommand(BaseCommand):
    """A command whose ``help`` is translated lazily (``gettext_lazy``): argparse is handed the text as a str."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.description = str(self.help) if self.help else None
        return parser


class ActorCommand(TranslatedCommand):
    """A management command that acts under a staff user's name (``--actor``), with the admin's permissions.

    Subclasses name the permissions in ``permissions``; ``self.actor(options)`` returns the user or stops
    the command with a CommandError saying why not.
    """

    permissions: tuple[str, ...] = ()

    def add_arguments(self, parser):
        parser.add_argument(
            "--actor", required=True, metavar="USERNAME",
            help=_("The active staff user you act as; the audit and the admin history name them, and they need "
                   "the permission the matching admin action needs."),
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
            raise CommandError(words.unknown_owners_text(unknown))

    def fail_if(self, problems: list[str]) -> None:
        """Exit non-zero, naming each problem, when there are any (the details were printed above)."""
        if problems:
            raise CommandError(words.problems_above_text(problems), returncode=1)

    @contextmanager
    def stalls_reported(self, progress: "ProgressReporter") -> Iterator[None]:
        """Stop the command, non-zero, when nothing it handed to the engine ends for ``stall_seconds()``
        (``engine.Stalled``: a broker and no worker, say), saying how many groups (or Chat users) are left."""
        try:
            yield
        except Stalled as stalled:
            progress.close()
            users = progress.unit == "user"
            missing = progress.total - progress.done if users else stalled.missing
            raise CommandError(words.workers_stalled_text(missing, stall_seconds(), users=users)) from None

    def progress(self, total: int | None, label: str, unit: str = "group") -> "ProgressReporter":
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
    (a command's ``self.stderr``) or any text stream. ``unit`` is what is counted, ``"group"`` or ``"user"``;
    ``label`` names the work (the command's name, or words already translated).
    """

    UNITS = ("group", "user")

    def __init__(self, stream, total: int | None, label: str, unit: str = "group", interval: float = 5.0):
        if unit not in self.UNITS:
            raise ValueError(f"Unknown unit {unit!r}: use one of {', '.join(self.UNITS)}.")
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
            tqdm(total=total, desc=label, unit=self.unit_name(), file=self.stream, dynamic_ncols=True, leave=True)
            if isatty and isatty()
            else None
        )

    def unit_name(self) -> str:
        """The unit as the progress bar shows it, before "/s"."""
        if self.unit == "user":
            return pgettext("progress bar unit", "user")
        return pgettext("progress bar unit", "group")

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
        self.stream.write(self.text(self.done / elapsed) + "\n")
        self.stream.flush()

    def text(self, rate: float) -> str:
        """A plain progress line: "sync_contact_groups: 3/10 groups (30%), 0 failed, 4.2 groups/s"."""
        return words.progress_text(self.unit, self.label, self.done, self.total, self.failed, rate)

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
