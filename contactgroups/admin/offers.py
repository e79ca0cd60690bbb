"""The buttons a group's page offers on Chat's refusals: import a user Chat refused as not imported, sync again;
and beside its state, while it waits for a retry, "Retry now".

The page (and the live status the page's script reads) finds what the staff may do once (``chat_actions``), and
the import state of every user refused as not imported in one query, then gives them to the group and its rows.
"""

from django.urls import reverse

from contactgroups import sync
from contactgroups.admin.display import ChatActions, not_imported_offers, retry_offer, sync_offer
from contactgroups.chat import errors, protocol
from contactgroups.models import ChatUser, ContactGroup, ContactItem
from contactgroups.outcomes import SyncOutcome


def chat_actions(model_admin, request, group) -> ChatActions:
    """What the staff may do on this group's page about Chat's refusals: import a user, sync the group again."""
    actions = model_admin.admin_site.get_model_admin(ChatUser).chat_actions(request)
    if model_admin.has_sync_permission(request) and model_admin.has_change_permission(request, group):
        site = model_admin.admin_site.name
        actions = ChatActions(import_url=actions.import_url, add_users=actions.add_users,
                              sync_url=reverse("admin:contactgroups_contactgroup_sync_one", args=[group.pk],
                                               current_app=site),
                              retry_url=reverse("admin:contactgroups_contactgroup_retry_now", args=[group.pk],
                                                current_app=site))
    return actions


def retry_offers(group) -> list:
    """The "Retry now" button beside the state of a group that waits for a retry, when the page gives the group
    its actions (attach_chat_actions) and they allow it."""
    actions = getattr(group, "chat_actions", None)
    if actions is None or not actions.retry_url or not sync.waits(group):
        return []
    return [retry_offer(actions)]


def attach_chat_actions(model_admin, request, group, items) -> ChatActions:
    """Give the group and ``items`` the page's actions and the import state of each user refused as not imported
    (one query for the whole page)."""
    actions = chat_actions(model_admin, request, group)
    refused = {item.to_account for item in items
               if item.type == protocol.TYPE_C2C and errors.is_account_not_imported(item.result_code)}
    refused.update(not_imported_users(group))
    states = dict(ChatUser.objects.filter(user_id__in=refused).values_list("user_id", "import_state")) \
        if refused else {}
    group.chat_actions, group.chat_user_states = actions, states
    for item in items:
        item.chat_actions, item.chat_user_states = actions, states
    return actions


def offer_on_page(model_admin, request, context, group) -> None:
    """Give the change page's refusals their buttons (the context's ``chat_actions``)."""
    items = [form.instance for inline in context.get("inline_admin_formsets", ()) for form in inline.formset.forms
             if isinstance(form.instance, ContactItem)]
    context["chat_actions"] = attach_chat_actions(model_admin, request, group, items)
    context["chat_actions_group"] = group.pk


def offer_in_status(model_admin, request, group, items, status) -> None:
    """Where a value of the live status carries buttons on the page (an import offer), give them as ``offers`` (a
    list of display.Offer.as_data), so the script shows the buttons a sync's end brings, and takes away those it
    settles."""
    items = [item for item in items
             if item.type == protocol.TYPE_C2C and errors.is_account_not_imported(item.result_code)]
    attach_chat_actions(model_admin, request, group, items)
    status["offers"] = [offer.as_data() for offer in retry_offers(group)]
    status["fields"]["last_sync"]["offers"] = [offer.as_data() for offer in last_sync_offers(group)]
    conversations = {conversation["id"]: conversation for conversation in status["conversations"]}
    for item in items:
        conversations[item.pk]["offers"] = [offer.as_data() for offer in result_offers(item)]


def last_sync_offers(group) -> list:
    """What the last sync's field offers, when the page gives the group its actions (attach_chat_actions): for
    each user Chat refused as not imported, an import button or that it is imported now; then a sync again."""
    users = not_imported_users(group)
    actions = getattr(group, "chat_actions", None)
    if not users or actions is None:
        return []
    offers = not_imported_offers(actions, users, getattr(group, "chat_user_states", {}))
    if actions.sync_url and group.state not in (ContactGroup.State.QUEUED, ContactGroup.State.SYNCING):
        offers.append(sync_offer(actions))
    return offers


def result_offers(item) -> list:
    """The import button under a one-to-one conversation Chat refused as not imported, when the page offers one."""
    if item.type != protocol.TYPE_C2C or not errors.is_account_not_imported(item.result_code):
        return []
    return not_imported_offers(getattr(item, "chat_actions", None), [item.to_account],
                               getattr(item, "chat_user_states", {}))


def not_imported_users(group) -> list[str]:
    """The UserIDs the group's last sync says Chat refused as not imported: the owner, whose refusal stopped the
    call, and each one-to-one conversation refused so."""
    outcome = group.sync.outcome
    if not isinstance(outcome, SyncOutcome):
        return []
    users = []
    if outcome.error and errors.is_account_not_imported(outcome.error.code):
        users.append(group.owner.user_id)
    for refusal in outcome.refused:
        if refusal.type == protocol.TYPE_C2C and errors.is_account_not_imported(refusal.code) \
                and refusal.target not in users:
            users.append(refusal.target)
    return users
