"""The audit of every call made to Chat: a read-only list of millions of rows, counted by estimate or up to a cap."""

import json

from django.contrib import admin
from django.db import connections
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from contactgroups import words
from contactgroups.admin.django_internals import is_filtered
from contactgroups.admin.filters import ErrorCodeFilter, OperationFilter, PageReadFilter, StartedFilter
from contactgroups.admin.paging import CappedCount, CappedCountPaginator
from contactgroups.admin.selection import SelectedIdsChecked
from contactgroups.models import SyncAttempt


class EstimatedCountPaginator(CappedCountPaginator):
    """Pages of millions of audit rows whose count never reads them all.

    Counting millions of rows exactly takes longer than everything else on the page, and grows with the table. The
    whole table on PostgreSQL, filtered by nothing beyond the list's default (page reads hidden), is counted by the
    planner's estimate (pg_class.reltuples, refreshed by autovacuum; it includes the hidden page reads). Anything
    else (a filtered list, SQLite) is counted up to a cap (paging.CappedCountPaginator).
    """

    EXACT_BELOW = 100_000

    @cached_property
    def count(self):
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor == "postgresql" and not filtered_beyond_default(queryset):
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                               [queryset.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] >= self.EXACT_BELOW:
                return int(row[0])
        return self.capped_count(queryset)

    def page(self, number):
        """The page; past the first, its calls are found by their keys alone (an index read without its rows),
        then read: an OFFSET of 200,000 rows otherwise reads every skipped row whole."""
        page = super().page(number)
        if page.number > 1:
            keys = list(page.object_list.values_list("pk", flat=True))
            page.object_list = self.object_list.filter(pk__in=keys)
        return page


def filtered_beyond_default(queryset) -> bool:
    """Whether ``queryset`` is filtered by more than the list's default (page reads hidden)."""
    return is_filtered(queryset) and queryset.query.where != SyncAttempt.objects.filter(page_read=False).query.where


@admin.register(SyncAttempt)
class SyncAttemptAdmin(CappedCount, SelectedIdsChecked, admin.ModelAdmin):
    """Every call made to Chat, read-only for everyone."""

    paginator = EstimatedCountPaginator

    list_display = ["started_at", "operation_shown", "owner_user_id", "group_name", "actor", "result"]
    list_filter = [PageReadFilter, "outcome", OperationFilter, ErrorCodeFilter, StartedFilter]
    list_select_related = ["actor"]
    search_fields = ["owner_user_id"]
    search_help_text = _("Finds the calls made for the owner with exactly this UserID.")
    show_facets = admin.ShowFacets.NEVER
    fields = [
        "started_at", "duration_ms", "actor", "group", "owner_user_id", "group_name", "operation_shown", "outcome",
        "http_status", "action_status", "error_code_shown", "error_meaning", "error_info", "refused_items",
        "refused_codes", "request_json", "response_json",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["contactgroups/admin.css"]}

    def changelist_view(self, request, extra_context=None):
        # The list says that it hides the page reads, and how to show them.
        return super().changelist_view(request, {"page_reads_hidden": PageReadFilter.hides(request),
                                                 **(extra_context or {})})

    def get_search_results(self, request, queryset, search_term):
        # Exact, so the index answers it: a substring search would read every one of millions of rows.
        term = search_term.strip()
        return (queryset.filter(owner_user_id=term) if term else queryset), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("operation"), ordering="operation")
    def operation_shown(self, attempt):
        """What the call did in staff words, the API's name beside it for those who need it."""
        text = words.operation_text(attempt.operation)
        if text == attempt.operation:
            return format_html('<code class="api-name">{}</code>', attempt.operation)
        return format_html('{} <code class="api-name">{}</code>', text, attempt.operation)

    @admin.display(description=_("ErrorCode"))
    def error_code_shown(self, attempt):
        return None if attempt.error_code is None else words.code_number(attempt.error_code)

    @admin.display(description=_("meaning"))
    def error_meaning(self, attempt):
        if attempt.outcome == SyncAttempt.Outcome.TOO_SLOW:
            return _("Chat had not sent its whole answer by the call's deadline, so the call was given up: the "
                     "request may have taken effect.")
        if attempt.outcome == SyncAttempt.Outcome.TOO_LARGE:
            return _("Chat's answer was longer than the most this admin reads of one answer, so it was cut off "
                     "unread: the request may have taken effect.")
        if attempt.outcome == SyncAttempt.Outcome.UNREADABLE:
            return _("Chat answered in a form this admin cannot read (its answer is below), so the call was taken as "
                     "failed: the request may have taken effect.")
        if attempt.outcome == SyncAttempt.Outcome.NOT_SENT:
            return _("Chat could not be reached (no connection was made), so the request was not sent: nothing "
                     "changed in Chat.")
        if attempt.outcome == SyncAttempt.Outcome.NO_ANSWER and attempt.error_code is None:
            # Said here, for whoever reads the calls; the group's page says what the sync does about it.
            if attempt.http_status:
                return words.http_answer_text(attempt.http_status)
            return _("The connection to Chat was lost before its answer came: the request may have taken effect.")
        return attempt.error_meaning or "—"

    @admin.display(description=_("refused with"))
    def refused_codes(self, attempt):
        codes = [refusal.code for refusal in attempt.refusals.all()]
        if not codes:
            return "—"
        return format_html_join("", "<div>{}</div>", ((words.code_text(code),) for code in codes))

    @admin.display(description=_("result"), ordering="outcome")
    def result(self, attempt):
        text = words.call_result_text(
            attempt.get_outcome_display(), words.code_number(attempt.error_code) if attempt.error_code else None,
            attempt.refused_items, attempt.http_status)
        if attempt.outcome == SyncAttempt.Outcome.OK:
            return text
        return format_html('<strong class="refused">{}</strong>', text)

    @admin.display(description=_("request body"))
    def request_json(self, attempt):
        return body(attempt.request)

    @admin.display(description=_("response body"))
    def response_json(self, attempt):
        if attempt.response is None:
            return "—"
        return body(attempt.response)


# A body of more lines than this is folded on a call's page: its first lines shown, the rest behind a button.
BODY_LINES_SHOWN = 30


def body(value) -> str:
    """A request or answer body as indented JSON; a long one folded, so a call's page stays a page."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    lines = text.count("\n") + 1
    if lines <= BODY_LINES_SHOWN:
        return format_html("<pre>{}</pre>", text)
    head = "\n".join(text.split("\n")[:BODY_LINES_SHOWN])
    # The first lines stay in view under the fold's button until it is opened (admin.css hides them then).
    return format_html('<details class="body-fold"><summary>{}</summary><pre>{}</pre></details>'
                       '<pre class="body-head">{}\n…</pre>', words.body_summary_text(lines), text, head)
