"""A request whose address holds a NUL is refused with a page that says so, before any view reads it.

No column of either database can hold a NUL (contactgroups.chat.protocol.storable), and PostgreSQL refuses a
query that compares a column with one: a filter, a search or any other query value holding ``%00`` would be a
server error. Forms refuse a NUL in what they post themselves ("Null characters are not allowed."), field by field.
"""

from django.shortcuts import render
from django.utils.translation import gettext as _

from contactgroups import words


def _carries_nul(request) -> bool:
    return "\x00" in request.path or any(
        "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists())


class RefuseNulAddress:
    """Answer 400, with the reason in words, to a request whose path or query string holds a NUL."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _carries_nul(request):
            return render(request, "imadmin/bad_request.html", {
                "title": _("This address cannot be read"),
                "message": words.nul_address_text(),
            }, status=400)
        return self.get_response(request)
