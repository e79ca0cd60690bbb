"""The list filters: each one a query an index answers, and a box where a list of values would be too long."""

from datetime import timedelta

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from contactgroups import words
from contactgroups.admin.django_internals import filter_params
from contactgroups.admin.paging import rows_needed
from contactgroups.chat import errors, protocol
from contactgroups.models import ChatUser, ContactGroup, SyncAttempt, SyncAttemptRefusal


class StateFilter(admin.SimpleListFilter):
    """Filter by sync state, leaving deleted groups out unless asked for."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [*ContactGroup.State.choices, ("all", _("All, deleted included"))]

    def choices(self, changelist):
        value = self.value()
        yield {
            "selected": value is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("Not deleted"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset.live()
        if value == "all":
            return queryset
        return queryset.filter(state=value)


class DriftFilter(admin.SimpleListFilter):
    """The groups whose last reading of Chat found the user changed them in the app (an index of their sync rows holds
    only those)."""

    title = _("changed in the app")
    parameter_name = "drift"

    def lookups(self, request, model_admin):
        return [("yes", _("Changed in the app"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.drifted()
        return queryset


class InputFilter(admin.SimpleListFilter):
    """A filter typed into a box, for a field with too many values to list (a UserID, an ErrorCode)."""

    template = "admin/input_filter.html"

    def lookups(self, request, model_admin):
        return []

    def has_output(self):
        return True

    def choices(self, changelist):
        yield {
            "selected": not self.value(),
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("All"),
            # The box's form sends the other filters, the search and the ordering along; a new filter starts
            # again at page 1.
            "hidden": [
                (name, value)
                for name, values in filter_params(changelist).items()
                if name != self.parameter_name
                for value in values
            ],
        }


class OwnerFilter(InputFilter):
    """Groups of the owners whose UserID or nickname contains the text typed (ChatUser.objects.matching): a box, since
    a list of every owner would be 100,000 links."""

    title = _("owner (part of UserID or nickname)")
    parameter_name = "owner"

    def queryset(self, request, queryset):
        text = (self.value() or "").strip()
        if not text:
            return queryset
        return queryset.filter(owner__in=ChatUser.objects.matching(text).values("pk").order_by())


class OperationFilter(admin.SimpleListFilter):
    """The endpoint called, from the client's own list rather than the distinct values of millions of rows."""

    title = _("operation")
    parameter_name = "operation"
    OPERATIONS = sorted(endpoint.rsplit("/", 1)[-1] for endpoint in protocol.ENDPOINTS)

    def lookups(self, request, model_admin):
        return [(operation, words.operation_label(operation)) for operation in self.OPERATIONS]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(operation=self.value())
        return queryset


class ErrorCodeFilter(InputFilter):
    """Calls Chat answered with this ErrorCode, and calls in which it refused a conversation with it."""

    title = _("ErrorCode")
    parameter_name = "error_code"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.per_page = model_admin.list_per_page

    @staticmethod
    def code(value: str) -> int | None:
        """The code ``value`` names: a whole number a column holds (negative ones too), or ``?`` for the codes this
        admin cannot read, as the pages write them (``words.code_number``); None for anything else."""
        if value == words.code_number(errors.CODE_UNREADABLE):
            return errors.CODE_UNREADABLE
        try:
            code = int(value)
        except ValueError:
            return None
        return code if errors.CODE_MIN <= code <= errors.CODE_MAX else None

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        code = self.code(value)
        if code is None:
            return queryset.none()
        # The union of two subqueries, each answered by an index: no join to the refusals (which would need
        # DISTINCT), and no OR across tables (which no index answers). Of the calls answered with the code (1 in
        # 100 of millions, for a common one), only the newest the page and its capped count can show: read in
        # order from the (error_code, started_at, id) index, rather than every one of them read and sorted.
        newest = (SyncAttempt.objects.filter(error_code=code).order_by("-started_at", "-id")
                  .values("pk")[:rows_needed(request, self.per_page) + 1])
        answered = SyncAttempt.objects.filter(pk__in=newest).values("pk").order_by()
        refused = SyncAttemptRefusal.objects.filter(code=code).values("attempt_id").order_by()
        return queryset.filter(pk__in=answered.union(refused))


class StartedFilter(admin.SimpleListFilter):
    """Recent calls; a date hierarchy would read the date of every row to build its links."""

    title = _("started")
    parameter_name = "started"
    PERIODS = {
        "hour": (timedelta(hours=1), _("Last hour")),
        "day": (timedelta(days=1), _("Last 24 hours")),
        "week": (timedelta(days=7), _("Last 7 days")),
        "month": (timedelta(days=30), _("Last 30 days")),
    }

    def lookups(self, request, model_admin):
        return [(key, title) for key, (_period, title) in self.PERIODS.items()]

    def queryset(self, request, queryset):
        if self.value() in self.PERIODS:
            return queryset.filter(started_at__gte=timezone.now() - self.PERIODS[self.value()][0])
        return queryset


class PageReadFilter(admin.SimpleListFilter):
    """The reads of Chat made while a staff page waited (the group page's comparison, the picker's list): hidden
    unless asked for, so the list shows what syncs, pulls, imports and the sweep did.

    The default, the calls that are not page reads, is one boolean column the list's own order (the start time's
    index) walks past; "Only page reads" and "Shown" add nothing or that column.
    """

    title = _("page reads")
    parameter_name = "page_reads"
    HIDDEN = pgettext_lazy("page reads", "Hidden")

    def lookups(self, request, model_admin):
        return [("shown", pgettext_lazy("page reads", "Shown")), ("only", _("Only page reads"))]

    def choices(self, changelist):
        yield {
            "selected": self.value() not in ("shown", "only"),
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": self.HIDDEN,
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "shown":
            return queryset
        if self.value() == "only":
            return queryset.filter(page_read=True)
        return queryset.filter(page_read=False)

    @staticmethod
    def hides(request) -> bool:
        """Whether the list ``request`` asks for hides the page reads (the default)."""
        return request.GET.get(PageReadFilter.parameter_name) not in ("shown", "only")
