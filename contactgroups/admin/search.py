"""Searching by part of a name: Chat users by any part of the UserID or the nickname (ChatUser.objects.matching),
in the Chat users' search box, the owner autocomplete and the group list's owner filter; groups by any part of the
name or of a group conversation's id, or by their owner (ContactGroup.objects.matching), in the group list's box.

The group list says what its search left out or did differently: that no Chat user matches the owner filter, how
many deleted groups the search would also have found while the list leaves them out, and how a text too short for
the trigram indexes was searched.

A search for a common word reads the page from the list's first groups in its order (``GroupChangeList``).
"""

from django.contrib import messages
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from contactgroups import words
from contactgroups.admin.filters import OwnerFilter, StateFilter
from contactgroups.admin.paging import rows_needed
from contactgroups.indexes import TRIGRAM
from contactgroups.models import ChatUser, ContactGroup

USER_SEARCH_HELP = _(
    "Finds users whose UserID or nickname contains the text, in any case; a text of one or two characters finds "
    "those whose UserID or nickname starts with it."
)

GROUP_SEARCH_HELP = _(
    "Finds groups whose name contains the text, groups holding a group conversation whose id contains it or a "
    "one-to-one conversation with exactly this UserID, and groups of owners whose UserID or nickname contains it; "
    "in any case. A text of one or two characters is looked for in every group's name, which takes longer on a long "
    "list, at the start of owners' UserIDs and nicknames, and as a whole group id."
)

# How many groups the list reads in its order for each row its page and capped count need, testing each, before it
# finds every match through the indexes instead: a word in one group of 25 or more is found among the first ones.
READ_PER_ROW = 25


class GroupChangeList(ChangeList):
    """The group list. Its page of a search for a common word (``ORK``, in 1 group of 17) comes from the list's
    first groups in its order, each tested against the rule as it is read (``ContactGroup.objects.matching(text,
    each_row=True)``), up to the rows the page and its capped count need (``paging.rows_needed``): through the
    trigram indexes the database would find all 50,000 matches, then sort them. When those first groups hold
    fewer matches (a rare text), the page is read from the search's own queryset (the indexes). Only the page and
    its count read it so: actions on every matching group and the export keep the whole search (``queryset``)."""

    def get_results(self, request):
        searched = self.queryset
        newest = self.newest_matches(request)
        if newest is not None:
            self.queryset = newest
        try:
            super().get_results(request)
        finally:
            self.queryset = searched

    def newest_matches(self, request):
        """The groups matching the search, in the list's order (most recently changed first, as ``ordering``),
        down to the one just past those the page and its capped count need, when the list's first groups hold
        them; else None. Each query walks the list's (updated_at, id) index and stops there."""
        text = self.query.strip()
        if not text or self.show_all or ORDER_VAR in self.params:
            return None
        most = rows_needed(request, self.list_per_page)
        query, specs = self.query, (self.filter_specs, self.has_filters, self.has_active_filters)
        self.query = ""
        try:
            unsearched = self.get_queryset(request)  # filtered and ordered as the list is
        finally:
            self.query = query
            self.filter_specs, self.has_filters, self.has_active_filters = specs
        if list(dict.fromkeys(unsearched.query.order_by)) != ["-updated_at", "-id"]:
            return None
        tested = unsearched.matching(text, each_row=True)
        cut = unsearched.values_list("updated_at", "pk")[most * READ_PER_ROW - 1:most * READ_PER_ROW]
        read = tested.filter(at_or_before(*cut[0])) if cut else tested
        last = read.values_list("updated_at", "pk")[most:most + 1]
        return tested.filter(at_or_before(*last[0])) if last else None


def at_or_before(updated_at, pk) -> Q:
    """The groups at or before (``updated_at``, ``pk``) in the list's order, most recently changed first; its
    ``updated_at`` bound alone (an AND) is what bounds the index's range, the OR a filter within it."""
    return Q(updated_at__gte=updated_at) & (Q(updated_at__gt=updated_at) | Q(pk__gte=pk))


def no_user_matches_text(text: str) -> str:
    """Staff's words for a search of Chat users that found none, saying what was searched and how."""
    text = text.strip()
    return words.no_user_matches_text(text, at_start=len(text) < TRIGRAM)


def note_what_the_search_left_out(model_admin, request, response) -> None:
    """On the group list's page (``response``), what its search and owner filter found: that no Chat user matches
    the owner filter, the deleted groups the search would also have found (``cl.deleted_note``), and how a text
    shorter than a trigram was searched (``cl.short_note``)."""
    cl = response.context_data.get("cl") if isinstance(response, TemplateResponse) else None
    if cl is None:
        return
    owner = next((spec.value() for spec in cl.filter_specs if isinstance(spec, OwnerFilter)), None)
    if owner and owner.strip() and not cl.result_count and not ChatUser.objects.matches_any(owner):
        model_admin.say(request, no_user_matches_text(owner), messages.WARNING)
    cl.deleted_note = deleted_note(model_admin, request, cl)
    text = cl.query.strip()
    cl.short_note = words.short_group_search_text(text) if 0 < len(text) < TRIGRAM else ""


def deleted_note(model_admin, request, cl) -> str:
    """"2 deleted groups also match; show them", when the list leaves deleted groups out (the state filter's
    default) and its search would find some; else empty."""
    if not cl.query.strip() or any(isinstance(spec, StateFilter) and spec.value() is not None
                                   for spec in cl.filter_specs):
        return ""
    deleted = ContactGroup.objects.filter(state=ContactGroup.State.DELETED)
    for spec in cl.filter_specs:
        narrowed = None if isinstance(spec, StateFilter) else spec.queryset(request, deleted)
        if narrowed is not None:  # as Django's changelist reads a filter's answer
            deleted = narrowed
    deleted, _distinct = model_admin.get_search_results(request, deleted, cl.query)
    count = deleted.count()
    if not count:
        return ""
    return format_html(
        '{} <a href="{}">{}</a>',
        words.deleted_also_match_text(count),
        cl.get_query_string({StateFilter.parameter_name: ContactGroup.State.DELETED}),
        ngettext("show it", "show them", count),
    )
