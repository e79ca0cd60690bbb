"""The CSV import page of conversation groups: an upload, a preview, then a confirmation that creates them.

``contactgroups.imports`` does the work: the same checks and counting as the group form, the same code as
``manage.py import_contact_groups``.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.functional import lazy
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

from contactgroups import words
from contactgroups.admin.views import GroupAdminView
from contactgroups.exports import csv_pieces
from contactgroups.imports import csvfile
from contactgroups.imports.groups import (
    GROUP_COLUMNS,
    GroupImportPlan,
    apply_group_import,
    plan_group_import,
    reason_title,
    sample_rows,
)
from contactgroups.spreadsheet import SafeWriter

IMPORT_PAYLOAD_SALT = "contactgroups.import"
# A preview stays valid this long; the confirmation checks every group again anyway.
IMPORT_PAYLOAD_MAX_AGE_SECONDS = 3600
# At most this many refusals are listed in messages after the confirmation; the preview groups them by reason
# and offers the whole list as a CSV file.
IMPORT_REFUSALS_LISTED_MAX = 20
# The preview lists this many of the groups it would create, then says how many more.
IMPORT_GROUPS_SHOWN_MAX = 100
REFUSALS_COLUMNS = ["row", "column", "reason", "why"]
SAMPLE_FILE_NAME = "conversation-groups-sample.csv"


class ContactGroupImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=lazy(words.upload_help_text, str)(csvfile.CSV_MAX_BYTES // (1024 * 1024), csvfile.CSV_MAX_ROWS),
    )


class ImportView(GroupAdminView):
    """``import/``: the upload, its preview, and the confirmation that creates the groups."""

    template_name = "admin/contactgroups/contactgroup/import.html"

    def dispatch(self, request):
        if not self.model_admin.has_import_permission(request):
            raise PermissionDenied
        if request.method == "POST" and "confirm" in request.POST:
            return self.confirmed(request)
        form = ContactGroupImportForm(request.POST or None, request.FILES or None)
        context = {}
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            context = self.preview(form, upload)
        return TemplateResponse(request, self.template_name, {
            **self.model_admin.admin_site.each_context(request),
            "opts": self.model_admin.opts,
            "title": _("Import conversation groups from CSV"),
            "form": form,
            **context,
        })


    def preview(self, form, upload) -> dict:
        """Check the upload without saving anything: the preview's context, or {} with the form's error set."""
        if upload.size > csvfile.CSV_MAX_BYTES:
            form.add_error("file", words.upload_too_large_text(csvfile.CSV_MAX_BYTES // (1024 * 1024)))
            return {}
        raw = upload.read()
        try:
            plan = plan_group_import(raw, upload.name)
        except csvfile.CsvError as exc:
            form.add_error("file", str(exc))
            return {}
        payload = signing.dumps({"name": upload.name, "csv": raw.decode("utf-8-sig")}, salt=IMPORT_PAYLOAD_SALT,
                                compress=True)
        if settings.DATA_UPLOAD_MAX_MEMORY_SIZE and len(payload) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2:
            form.add_error("file", _(
                "This file is too large to import here; use `manage.py import_contact_groups`."))
            return {}
        accepted, rejected = len(plan.accepted), len(plan.rejected)
        refusals = plan.refusals_by_reason()
        refused_rows = sum(reasons.count for reasons in refusals)
        summary = words.preview_summary_text(accepted, plan.conversation_count, rejected, refused_rows)
        return {"plan": plan, "accepted_shown": plan.accepted[:IMPORT_GROUPS_SHOWN_MAX],
                "accepted_more": max(0, accepted - IMPORT_GROUPS_SHOWN_MAX), "refusals": refusals,
                "refused_rows": refused_rows, "payload": payload, "file_name": upload.name, "summary": summary}


    def confirmed(self, request):
        """Create the previewed groups (each checked again as it is saved) and queue each for sync."""
        here = self.url("import")
        payload = signed_payload(self.model_admin, request)
        if payload is None:
            return HttpResponseRedirect(here)
        source = words.upload_source_text(payload["name"])
        plan = plan_group_import(payload["csv"].encode("utf-8"), payload["name"])
        not_queued = []
        result = apply_group_import(plan, request.user.pk, source,
                                    on_not_queued=lambda pk, exc: not_queued.append(exc))
        created = len(result.created)
        queued = created - len(not_queued)
        if queued or not created:
            self.model_admin.say(request, words.imported_text(queued, payload["name"]),
                                 messages.SUCCESS if created else messages.WARNING)
        if not_queued:
            self.model_admin.say(request, words.imported_not_queued_text(len(not_queued), payload["name"],
                                                                         not_queued[-1]), messages.ERROR)
        if result.rejected:
            refused = GroupImportPlan(rejected=result.rejected, problems=plan.problems).rejected_rows()
            self.model_admin.say(request, words.import_refused_text(
                len(result.rejected), [problem.line() for problem in refused[:IMPORT_REFUSALS_LISTED_MAX]],
                more=len(refused) > IMPORT_REFUSALS_LISTED_MAX), messages.WARNING)
        return HttpResponseRedirect(self.url("changelist"))


class ImportSampleView(GroupAdminView):
    def dispatch(self, request):
        """A small CSV file the import takes as it is: its columns and a few rows, to fill in."""
        if not self.model_admin.has_import_permission(request):
            raise PermissionDenied
        return HttpResponse(b"".join(csv_pieces(sample_rows(), header=GROUP_COLUMNS)),
                            content_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": content_disposition_header(True, SAMPLE_FILE_NAME)})



class ImportRefusalsView(GroupAdminView):
    def dispatch(self, request):
        """Every refused row of a previewed file, as CSV (``row,column,reason,why``), safe to open in a sheet."""
        if not self.model_admin.has_import_permission(request):
            raise PermissionDenied
        payload = signed_payload(self.model_admin, request) if request.method == "POST" else None
        if payload is None:
            return HttpResponseRedirect(self.url("import"))
        plan = plan_group_import(payload["csv"].encode("utf-8"), payload["name"])
        response = HttpResponse(content_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": content_disposition_header(True, f"refused-rows-{payload['name']}")})
        writer = SafeWriter(response)
        writer.writerow(REFUSALS_COLUMNS)
        for problem in plan.rejected_rows():
            writer.writerow([problem.row, problem.column, reason_title(problem.reason), problem.message])
        return response



def signed_payload(model_admin, request) -> dict | None:
    """The file a preview signed, or None (and a message) when it expired or was changed."""
    try:
        return signing.loads(request.POST.get("payload", ""), salt=IMPORT_PAYLOAD_SALT,
                             max_age=IMPORT_PAYLOAD_MAX_AGE_SECONDS)
    except signing.BadSignature:
        model_admin.say(request, _("This preview has expired or was changed; upload the file again."),
                          messages.ERROR)
        return None

