"""The group page's comparison with Chat: what the user changed in the app, and the staff's two answers to it.

Opening a group page reads its owner in Chat (``sync.page_reading.read_for_page``: a short timeout, never held
long), or shows a reading kept on the group with its age, and says plainly when neither is there. While a sync of the
group is queued or running it reads nothing and says the comparison comes after the sync; ``<id>/chat/`` gives the
box again (``ComparisonView``), which the page's script fetches once the sync ends. Any difference is shown above
the form with "Take Chat's version" and "Keep my edit"; both POST, need the change permission and CSRF, and change
nothing when Chat cannot be read or holds other than the page showed.
"""

import logging
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from contactgroups import sync, words
from contactgroups.admin.views import GroupAdminView
from contactgroups.chat import errors
from contactgroups.conf import app_settings
from contactgroups.forms import ContactGroupForm
from contactgroups.models import ContactGroup
from contactgroups.sync.drift import NameTaken, ReadingChanged, current_difference, fingerprint, unsent
from contactgroups.sync.outcome import error_data
from contactgroups.sync.page_reading import read_for_page

logger = logging.getLogger(__name__)


def chat_comparison(model_admin, request, group: ContactGroup) -> dict | None:
    """What the page says of Chat's copy of the group: read now, or as last read, or that nothing is known."""
    if group.state == ContactGroup.State.DELETED or group.delete_requested:
        return None
    page = read_for_page(group, request.user.pk, fresh="refresh" in request.GET)
    if page.error is not None and not isinstance(page.error, errors.ChatError):
        logger.warning("Reading Chat for group %s failed", group.pk, exc_info=page.error)
    if not page.sent:
        return None  # there is nothing in Chat to compare with
    info = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}"
    site = model_admin.admin_site.name
    change_url = reverse(f"admin:{info}_change", args=[group.pk], current_app=site)
    if page.pending:
        # Chat holds a half-done state while the sync runs: nothing is said of it until the sync ends.
        return {"pending": True, "box_url": reverse(f"admin:{info}_chat", args=[group.pk], current_app=site)}
    context = {
        "live": page.live,
        "known": page.known,
        "failure": (words.chat_read_failure_text(error_data(page.error), app_settings.SYNC_PAGE_READ_TIMEOUT)
                    if page.error is not None else ""),
        "refresh_url": change_url,
    }
    if not page.known:
        return context
    if not page.live:
        # Under a minute, timesince says "0 minutes": the template says "less than a minute" instead.
        now = timezone.now()
        context["age"] = timesince(page.read_at, now) if now - page.read_at >= timedelta(minutes=1) else ""
    drift = current_difference(group, page.reading)
    context["lines"] = words.drift_lines(drift, group.owner.user_id) if drift else []
    if not drift:
        # Nothing changed in the app; the page's version may still not be in Chat (a draft, a failed sync).
        context["missing"] = bool(page.reading.get("missing"))
        context["unsent"] = unsent(group, page.reading)
    if drift and model_admin.has_change_permission(request, group):
        context.update(
            name_taken=drift.get("name_taken"),
            shown=fingerprint(page.reading),
            take_url=reverse(f"admin:{info}_take_chat", args=[group.pk], current_app=site),
            keep_url=reverse(f"admin:{info}_keep_mine", args=[group.pk], current_app=site),
        )
    return context


class ComparisonView(GroupAdminView):
    """The comparison box alone, as the group page shows it now (its script asks for it once a sync ends)."""

    def get(self, request, object_id):
        group = self.group(request, object_id)
        if not self.model_admin.has_view_or_change_permission(request, group):
            raise PermissionDenied
        return TemplateResponse(request, "admin/contactgroups/contactgroup/chat_comparison.html",
                                {"chat": chat_comparison(self.model_admin, request, group)})


class AnswerView(GroupAdminView):
    """One of the two answers: for a user who may change the group, in a POST; else 403, 404 or 405, in that order."""

    def dispatch(self, request, object_id):
        model_admin = self.model_admin
        if not model_admin.has_change_permission(request):
            raise PermissionDenied
        group = self.group(request, object_id)
        if not model_admin.has_change_permission(request, group):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return self.answer(request, group)

    def answer(self, request, group: ContactGroup):
        raise NotImplementedError

    def refused(self, request, exc: BaseException) -> None:
        """Why an answer changed nothing, as an error (the reading failed or a sync held the group)."""
        if isinstance(exc, ReadingChanged):
            self.model_admin.say(request, _("Chat changed again since the page was shown, so nothing was changed. "
                                            "The page now shows the new difference."), messages.WARNING)
            return
        reason = words.chat_read_failure_text(error_data(exc), app_settings.SYNC_PAGE_READ_TIMEOUT)
        self.model_admin.say(request, words.answer_refused_text(reason), messages.ERROR)


class TakeChatVersionView(AnswerView):
    """"Take Chat's version": the group as the user left it in the app."""

    def answer(self, request, group):
        try:
            report = sync.drift.take_chat_version(group.pk, request.user.pk, shown=request.POST.get("shown", ""))
        except (errors.ChatError, sync.SyncBusy, ReadingChanged) as exc:
            self.refused(request, exc)
            return self.back_to_page(group.pk)
        owner = group.owner.user_id
        if report.held_back:
            self.model_admin.say(request, words.chat_taken_text(owner, group.name,
                                                                held_back_name=report.held_back[0]["name"]),
                                 messages.WARNING)
        elif report.deleted:
            self.model_admin.say(request, words.chat_taken_text(owner, group.name, deleted=True), messages.SUCCESS)
        elif report.changed:
            self.model_admin.say(request, words.chat_taken_text(
                owner, group.name, changes=words.pull_changes_text(report.changed[0])), messages.SUCCESS)
        else:
            self.model_admin.say(request, words.chat_taken_text(owner, group.name), messages.SUCCESS)
        return self.back_to_page(group.pk)


class KeepMyEditView(AnswerView):
    """"Keep my edit": the staff's version stays and is sent to Chat with the next sync."""

    def answer(self, request, group):
        new_name = request.POST.get("name")
        if new_name is not None:
            # Checked as the group form checks a name, before Chat is read.
            form = _NewNameForm(data={"name": new_name}, instance=group)
            if not form.is_valid():
                self.model_admin.say(request, words.answer_refused_text(words.reasons_text(
                    said for field in form.errors.values() for said in field)), messages.ERROR)
                return self.back_to_page(group.pk)
            new_name = form.cleaned_data["name"]
            group.refresh_from_db()
        try:
            kept = sync.drift.keep_staff_version(group.pk, request.user.pk, shown=request.POST.get("shown", ""),
                                                 new_name=new_name)
        except NameTaken as exc:
            if exc.group_id is None:  # a group of the mirror took the name meanwhile
                reason = words.name_used_text(group.owner.user_id, exc.name)
            else:
                reason = words.name_taken_in_chat_text(group.owner.user_id, exc.name, exc.group_id)
            self.model_admin.say(request, words.answer_refused_text(reason), messages.ERROR)
            return self.back_to_page(group.pk)
        except (errors.ChatError, sync.SyncBusy, ReadingChanged) as exc:
            self.refused(request, exc)
            return self.back_to_page(group.pk)
        group.refresh_from_db(fields=["name"])
        if kept is None:
            self.model_admin.say(request, words.already_matches_text(group.name), messages.SUCCESS)
            return self.back_to_page(group.pk)
        if self.model_admin.has_sync_permission(request):
            ContactGroup.objects.filter(pk=group.pk).update(state=ContactGroup.State.QUEUED)
            self.model_admin.hand_over(
                request, [group.pk],
                queued=lambda count: words.queued_text(words.HandOver.KEPT, count, group.name),
                not_queued=lambda count, error: words.not_queued_text(words.HandOver.KEPT, count, group.name, error),
            )
        else:
            ContactGroup.objects.filter(pk=group.pk).update(state=ContactGroup.State.DRAFT)
            self.model_admin.say(request, words.kept_as_draft_text(group.name), messages.WARNING)
        return self.back_to_page(group.pk)



class _NewNameForm(ContactGroupForm):
    """The name to keep the staff's version under, checked as the group form checks it."""

    class Meta(ContactGroupForm.Meta):
        fields = ["name"]
