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
from django.urls import path, reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from contactgroups import words
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
from contactgroups.permissions import SYNC_PERMISSION
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
        help_text=words.lazy_format(_("UTF-8, at most %(mb)d MB and %(rows)s rows."),
                                    mb=csvfile.CSV_MAX_BYTES // (1024 * 1024), rows=f"{csvfile.CSV_MAX_ROWS:,}"),
    )


class ContactGroupImportMixin:
    """Adds the CSV import page (``import/``) to the conversation-group admin."""

    import_template = "admin/contactgroups/contactgroup/import.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        refusals = self.admin_site.admin_view(self.import_refusals_view)
        sample = self.admin_site.admin_view(self.import_sample_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_import"
        return [path("import/", view, name=name), path("import/refusals/", refusals, name=f"{name}_refusals"),
                path("import/sample/", sample, name=f"{name}_sample"), *super().get_urls()]

    def has_import_permission(self, request):
        """Importing creates groups and syncs them: both permissions, as for adding a group in the form."""
        return self.has_add_permission(request) and request.user.has_perm(SYNC_PERMISSION)

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        if request.method == "POST" and "confirm" in request.POST:
            return self._import_confirmed(request)
        form = ContactGroupImportForm(request.POST or None, request.FILES or None)
        context = {}
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            context = self._import_preview(form, upload)
        return TemplateResponse(request, self.import_template, {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import conversation groups from CSV"),
            "form": form,
            **context,
        })

    def _import_preview(self, form, upload) -> dict:
        """Check the upload without saving anything: the preview's context, or {} with the form's error set."""
        if upload.size > csvfile.CSV_MAX_BYTES:
            form.add_error("file", _("This file is larger than %(mb)d MB; split it into smaller files.")
                           % {"mb": csvfile.CSV_MAX_BYTES // (1024 * 1024)})
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
        summary = gettext("%(groups)s with %(conversations)s would be created.") % {
            "groups": ngettext("%(count)d group", "%(count)d groups", accepted) % {"count": accepted},
            "conversations": ngettext("%(count)d conversation", "%(count)d conversations", plan.conversation_count)
            % {"count": plan.conversation_count},
        }
        refusals = plan.refusals_by_reason()
        refused_rows = sum(reasons.count for reasons in refusals)
        if refusals:
            summary += " " + ngettext(
                "%(count)d group is refused", "%(count)d groups are refused", rejected,
            ) % {"count": rejected} + ", " + ngettext(
                "%(count)d row in all; the reasons are below.", "%(count)d rows in all; the reasons are below.",
                refused_rows,
            ) % {"count": refused_rows}
        summary += " " + gettext("Nothing is saved until you confirm.")
        return {"plan": plan, "accepted_shown": plan.accepted[:IMPORT_GROUPS_SHOWN_MAX],
                "accepted_more": max(0, accepted - IMPORT_GROUPS_SHOWN_MAX), "refusals": refusals,
                "refused_rows": refused_rows, "payload": payload, "file_name": upload.name, "summary": summary}

    def _signed_payload(self, request) -> dict | None:
        """The file a preview signed, or None (and a message) when it expired or was changed."""
        try:
            return signing.loads(request.POST.get("payload", ""), salt=IMPORT_PAYLOAD_SALT,
                                 max_age=IMPORT_PAYLOAD_MAX_AGE_SECONDS)
        except signing.BadSignature:
            self.message_user(request, _("This preview has expired or was changed; upload the file again."),
                              messages.ERROR)
            return None

    def import_sample_view(self, request):
        """A small CSV file the import takes as it is: its columns and a few rows, to fill in."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        return HttpResponse(b"".join(csv_pieces(sample_rows(), header=GROUP_COLUMNS)),
                            content_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": content_disposition_header(True, SAMPLE_FILE_NAME)})

    def import_refusals_view(self, request):
        """Every refused row of a previewed file, as CSV (``row,column,reason,why``), safe to open in a sheet."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        payload = self._signed_payload(request) if request.method == "POST" else None
        if payload is None:
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import"))
        plan = plan_group_import(payload["csv"].encode("utf-8"), payload["name"])
        response = HttpResponse(content_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": content_disposition_header(True, f"refused-rows-{payload['name']}")})
        writer = SafeWriter(response)
        writer.writerow(REFUSALS_COLUMNS)
        for problem in plan.rejected_rows():
            writer.writerow([problem.row, problem.column, reason_title(problem.reason), problem.message])
        return response

    def _import_confirmed(self, request):
        """Create the previewed groups (each checked again as it is saved) and queue each for sync."""
        here = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import")
        payload = self._signed_payload(request)
        if payload is None:
            return HttpResponseRedirect(here)
        source = gettext("the upload %(name)s") % {"name": payload["name"]}
        plan = plan_group_import(payload["csv"].encode("utf-8"), payload["name"])
        not_queued = []
        result = apply_group_import(plan, request.user.pk, source,
                                    on_not_queued=lambda pk, exc: not_queued.append(exc))
        created = len(result.created)
        queued = created - len(not_queued)
        if queued or not created:
            self.message_user(request, ngettext(
                "%(count)d conversation group imported from %(name)s and queued for sync to Chat.",
                "%(count)d conversation groups imported from %(name)s and queued for sync to Chat.", queued,
            ) % {"count": queued, "name": payload["name"]}, messages.SUCCESS if created else messages.WARNING)
        if not_queued:
            self.message_user(request, ngettext(
                "%(count)d conversation group imported from %(name)s could not be queued for sync to Chat "
                "(%(error)s) and is marked failed.",
                "%(count)d conversation groups imported from %(name)s could not be queued for sync to Chat "
                "(%(error)s) and are marked failed.", len(not_queued),
            ) % {"count": len(not_queued), "name": payload["name"], "error": not_queued[-1]}, messages.ERROR)
        if result.rejected:
            refused = GroupImportPlan(rejected=result.rejected, problems=plan.problems).rejected_rows()
            self.message_user(request, ngettext(
                "%(count)d group was refused: %(rows)s",
                "%(count)d groups were refused: %(rows)s", len(result.rejected),
            ) % {"count": len(result.rejected),
                 "rows": " ".join(problem.line() for problem in refused[:IMPORT_REFUSALS_LISTED_MAX])
                 + (" …" if len(refused) > IMPORT_REFUSALS_LISTED_MAX else "")}, messages.WARNING)
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
