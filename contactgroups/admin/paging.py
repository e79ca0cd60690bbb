"""Lists counted up to a cap: a page's count reads the rows up to the end of the page asked for and a cap more, and
the pages say "more than" that many when there are more (the audit list, the group list)."""

from django.contrib.admin.views.main import PAGE_VAR
from django.core.paginator import Paginator
from django.utils.functional import cached_property

# A list counted up to a cap counts at most this many rows past the end of the page asked for; the audit's ErrorCode
# filter's page sorts as many of the calls answered with the code (a few ms a thousand).
COUNTED_PAST = 1_000


def rows_needed(request, per_page: int) -> int:
    """How many rows of a list, in its order, a page and its capped count need: those up to the end of the page
    asked for (``?p=``), and ``COUNTED_PAST`` more."""
    try:
        page = max(1, int(request.GET.get(PAGE_VAR, 1)))
    except ValueError:
        page = 1
    return page * per_page + COUNTED_PAST


class CappedCountPaginator(Paginator):
    """Pages whose count stops at ``most`` rows (``rows_needed``: to the end of the page asked for and
    ``COUNTED_PAST`` more): when there are more, ``capped`` is set and the pages say "more than" that many (the
    count is then ``most``, and the page links reach that far; a later page is still reached from the last one).

    Counting every match of a common search (50,000 of a million groups) takes longer than the page itself; the
    page needs only to know whether there is more than it links to.
    """

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, most=None):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.most = most if most is not None else per_page + COUNTED_PAST
        self.capped = False

    @cached_property
    def count(self):
        return self.capped_count(self.object_list)

    def capped_count(self, queryset) -> int:
        # SELECT COUNT(*) FROM (SELECT ... LIMIT most + 1): it stops at the cap, by whichever index is cheapest.
        counted = queryset.order_by()[:self.most + 1].count()
        if counted > self.most:
            self.capped = True
            return self.most
        return counted


class CappedCount:
    """A model admin's list counted up to a cap (``CappedCountPaginator``, or a subclass as ``paginator``); its
    templates (``templates/admin/contactgroups/search_form.html`` and ``pagination.html``) say "more than"."""

    paginator = CappedCountPaginator
    show_full_result_count = False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return self.paginator(queryset, per_page, orphans, allow_empty_first_page,
                              most=rows_needed(request, per_page))
