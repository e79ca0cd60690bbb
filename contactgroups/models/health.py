"""Chat calls counted a minute at a time, so the sync-health page reads a few thousand rows, not millions.

The audit writes these counts with its rows (``count_calls``): one upsert for the calls and one for their
refusal codes, whatever the number of rows, adding to what another process may have counted in the same minute.
"""

from collections import defaultdict
from datetime import UTC

from django.db import connections, models, router
from django.utils.translation import gettext_lazy as _

from contactgroups.chat import errors, protocol

# The outcomes (SyncAttempt.Outcome) of a call that Chat did not carry out.
FAILED_OUTCOMES = ("refused", "no_answer", "not_sent", "too_slow", "too_large", "unreadable")
PARTIAL_OUTCOME = "partial"
# Rows an upsert sends in one statement: well below any database's limit of parameters.
ROWS_A_STATEMENT = 500


class CallMinute(models.Model):
    """The Chat calls of one operation started in one minute: how many, how they ended, how long they took."""

    minute = models.DateTimeField(_("minute"))
    operation = models.CharField(_("operation"), max_length=64)
    calls = models.PositiveIntegerField(_("calls"), default=0)
    failed = models.PositiveIntegerField(_("failed calls"), default=0)
    partial = models.PositiveIntegerField(_("partly refused calls"), default=0)
    throttled = models.PositiveIntegerField(_("throttled calls"), default=0)
    duration_total_ms = models.BigIntegerField(_("total duration (ms)"), default=0)
    duration_max_ms = models.PositiveIntegerField(_("longest duration (ms)"), default=0)

    class Meta:
        verbose_name = _("Chat calls in a minute")
        verbose_name_plural = _("Chat calls in a minute")
        constraints = [models.UniqueConstraint(fields=["minute", "operation"], name="callminute_minute_operation")]

    def __str__(self):
        return f"{self.minute:%Y-%m-%d %H:%M} {self.operation}: {self.calls}"


class RefusalMinute(models.Model):
    """The Chat calls started in one minute that Chat refused with one code, whole or for a conversation.

    A call counts once for each distinct code: its ErrorCode, and each ResultCode it refused a conversation with,
    as the audit's ErrorCode filter finds it.
    """

    minute = models.DateTimeField(_("minute"))
    code = models.IntegerField(_("code"))
    calls = models.PositiveIntegerField(_("calls"), default=0)

    class Meta:
        verbose_name = _("refusals in a minute")
        verbose_name_plural = _("refusals in a minute")
        constraints = [models.UniqueConstraint(fields=["minute", "code"], name="refusalminute_minute_code")]

    def __str__(self):
        return f"{self.minute:%Y-%m-%d %H:%M} {self.code}: {self.calls}"


def minute_of(moment):
    """The UTC minute ``moment`` falls in."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def codes_of(attempt, refused_codes) -> set[int]:
    """The distinct codes a call was refused with: its ErrorCode (when not 0) and its conversations' codes."""
    codes = set(refused_codes)
    if attempt.error_code:
        codes.add(attempt.error_code)
    return codes


def minute_counts(attempts) -> tuple[dict, dict]:
    """The counts of ``attempts`` (``(SyncAttempt, refused codes)`` pairs): CallMinute's and RefusalMinute's
    values by key, ``{(minute, operation): [calls, failed, partial, throttled, total ms, max ms]}`` and
    ``{(minute, code): calls}``."""
    calls: dict[tuple, list[int]] = {}
    refusals: dict[tuple, int] = defaultdict(int)
    for attempt, refused_codes in attempts:
        minute = minute_of(attempt.started_at)
        row = calls.setdefault((minute, attempt.operation), [0, 0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += attempt.outcome in FAILED_OUTCOMES
        row[2] += attempt.outcome == PARTIAL_OUTCOME
        row[3] += attempt.error_code in errors.THROTTLING_CODES
        row[4] += attempt.duration_ms
        row[5] = max(row[5], attempt.duration_ms)
        for code in codes_of(attempt, refused_codes):
            refusals[(minute, code)] += 1
    return calls, dict(refusals)


def count_calls(attempts) -> None:
    """Add ``attempts`` (``(SyncAttempt, refused codes)`` pairs) to the minutes' counts: at most two statements.

    ``INSERT ... ON CONFLICT DO UPDATE`` adds to a row another writer made meanwhile, on SQLite and PostgreSQL
    alike; the rows go in key order, so two writers lock shared rows in the same order.
    """
    calls, refusals = minute_counts(attempts)
    _upsert(CallMinute, ["minute", "operation"],
            ["calls", "failed", "partial", "throttled", "duration_total_ms"], "duration_max_ms",
            [(*key, *values) for key, values in sorted(calls.items())])
    _upsert(RefusalMinute, ["minute", "code"], ["calls"], None,
            [(*key, value) for key, value in sorted(refusals.items())])


def _upsert(model, keys: list[str], added: list[str], greatest: str | None, rows: list[tuple]) -> None:
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    fields = [model._meta.get_field(name) for name in [*keys, *added, *([greatest] if greatest else [])]]
    columns = [quote(field.column) for field in fields]
    sets = [f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in added]
    if greatest:
        larger = "max" if connection.vendor == "sqlite" else "GREATEST"
        sets.append(f"{quote(greatest)} = {larger}({table}.{quote(greatest)}, excluded.{quote(greatest)})")
    marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_A_STATEMENT):
            chunk = rows[start:start + ROWS_A_STATEMENT]
            sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                   f"{', '.join([marks] * len(chunk))} ON CONFLICT ({', '.join(columns[:len(keys)])}) "
                   f"DO UPDATE SET {', '.join(sets)}")
            cursor.execute(sql, [field.get_db_prep_save(value, connection)
                                 for row in chunk for field, value in zip(fields, row, strict=True)])


def calls_a_minute_cap(operation: str) -> int:
    """The most calls of ``operation`` Chat takes in a minute (its documented rate, a second, times 60)."""
    for endpoint, rate in protocol.CALLS_PER_SECOND.items():
        if endpoint.rsplit("/", 1)[-1] == operation:
            return rate * 60
    return protocol.CALLS_PER_SECOND_MAX * 60
