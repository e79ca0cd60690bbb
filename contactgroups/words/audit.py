"""What the pruning of the audit did, for the operator who ran it."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def audit_pruned_text(sweep: int, others: int, sweep_days: int, days: int, dry_run: bool) -> str:
    """What ``prune_audit`` deleted (or, ``dry_run``, would delete): the drift sweep's reads older than
    ``sweep_days`` and the other Chat calls older than ``days``."""
    params = {"sweep": sweep, "others": others, "sweep_days": sweep_days, "days": days}
    if dry_run:
        parts = [
            ngettext("%(sweep)d read of the drift sweep older than %(sweep_days)d days would be deleted",
                     "%(sweep)d reads of the drift sweep older than %(sweep_days)d days would be deleted",
                     sweep) % params,
            ngettext("%(others)d other Chat call older than %(days)d days would be deleted",
                     "%(others)d other Chat calls older than %(days)d days would be deleted", others) % params,
        ]
    else:
        parts = [
            ngettext("%(sweep)d read of the drift sweep older than %(sweep_days)d days deleted",
                     "%(sweep)d reads of the drift sweep older than %(sweep_days)d days deleted", sweep) % params,
            ngettext("%(others)d other Chat call older than %(days)d days deleted",
                     "%(others)d other Chat calls older than %(days)d days deleted", others) % params,
        ]
    return _("%(sweep_reads)s; %(other_calls)s.") % {"sweep_reads": parts[0], "other_calls": parts[1]}
