"""The export of conversation groups from the admin: the selected groups (two actions) or those the list's filters
and search select (the changelist's Export buttons), as CSV or XLSX in ``export_contact_groups``' columns.

Both need the view permission. The CSV is streamed as it is read; the XLSX is written to a temporary file (a zip
cannot be sent before its sheet is whole), then streamed from it. Memory holds one chunk of groups either way. Groups
that make more rows than an XLSX sheet holds are refused as XLSX before anything is written, with the reason.
"""

import logging
import tempfile

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contactgroups import exports, words
from contactgroups.admin.views import GroupAdminView
from contactgroups.exports import csv_pieces, exported_row_count, exported_rows, write_xlsx

logger = logging.getLogger(__name__)

CSV, XLSX = "csv", "xlsx"
CONTENT_TYPES = {
    CSV: "text/csv; charset=utf-8",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_file_name(file_format: str) -> str:
    """``conversation-groups-2026-12-02.csv``: the day of the export, in the site's time zone."""
    return f"conversation-groups-{timezone.localdate():%Y-%m-%d}.{file_format}"


def export_response(groups, file_format: str, actor) -> StreamingHttpResponse:
    """The download of ``groups`` (a queryset) as ``file_format``, streamed."""
    name = export_file_name(file_format)
    logger.info("%s exported conversation groups as %s", actor.get_username(), file_format)
    if file_format == XLSX:
        spool = tempfile.TemporaryFile()
        write_xlsx(exported_rows(groups), spool, title=gettext("Conversation groups"))
        spool.seek(0)
        return FileResponse(spool, as_attachment=True, filename=name, content_type=CONTENT_TYPES[XLSX])
    return StreamingHttpResponse(csv_pieces(exported_rows(groups)), content_type=CONTENT_TYPES[CSV],
                                 headers={"Content-Disposition": content_disposition_header(True, name)})


class ExportView(GroupAdminView):
    """``export/csv/`` and ``export/xlsx/``: the groups the changelist shows with this query string (every page of
    them), as a download."""

    def get(self, request, file_format):
        model_admin = self.model_admin
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        changelist = self.url("changelist")
        if file_format not in CONTENT_TYPES:
            return HttpResponseRedirect(changelist)
        try:
            groups = model_admin.get_changelist_instance(request).queryset
        except IncorrectLookupParameters:
            return HttpResponseRedirect(f"{changelist}?e=1")
        query = request.GET.urlencode()
        return export_or_refuse(model_admin, request, groups, file_format,
                                f"{changelist}?{query}" if query else changelist)


@admin.action(description=_("Export selected groups (CSV)"), permissions=["view"])
def export_selected_csv(model_admin, request, queryset):
    return export_or_refuse(model_admin, request, queryset, CSV, request.get_full_path())


@admin.action(description=_("Export selected groups (XLSX)"), permissions=["view"])
def export_selected_xlsx(model_admin, request, queryset):
    return export_or_refuse(model_admin, request, queryset, XLSX, request.get_full_path())


def export_or_refuse(model_admin, request, groups, file_format, back: str):
    """The download, or back to ``back`` with the reason when the groups do not fit the format."""
    if file_format == XLSX:
        rows = exported_row_count(groups)
        if rows > exports.XLSX_ROWS_MAX:
            model_admin.say(request, words.xlsx_too_many_rows_text(rows, exports.XLSX_ROWS_MAX), messages.ERROR)
            return HttpResponseRedirect(back)
    return export_response(groups, file_format, request.user)
