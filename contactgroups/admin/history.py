"""A group's history as one story a staff action: the edit (a rename's old and new names, the conversations added
and removed, stored as data) with what Chat then did under it.

Each staff action's history entry holds an ``edit`` part as data (``words.edit_text`` says it) and is named on the
group (``last_staff_action``); the entries of the syncs that carry it out name it as their ``cause``, and the history
page shows them under it.
"""

import json
from dataclasses import dataclass, field

from django.contrib.admin.models import LogEntry

from contactgroups import words
from contactgroups.chat.types import Conversation
from contactgroups.models import ContactItem
from contactgroups.sync.outcome import conversation_data


def _conversation(values: dict) -> Conversation | None:
    kind = values.get("type")
    if kind in (None, ""):
        return None
    return ContactItem.conversation_of(int(kind), values.get("to_account") or "", values.get("to_group_id") or "")


def edit_data(form, formsets, add: bool) -> dict:
    """What a save of the group page changed, as data: the name (and the old one of a rename), the conversations
    added and removed."""
    added, removed = set(), set()
    for formset in formsets:
        if formset.model is not ContactItem:
            continue
        deleted = {id(item_form) for item_form in formset.deleted_forms}
        for item_form in formset.initial_forms:
            old = _conversation(item_form.initial)
            if id(item_form) in deleted:
                removed.add(old)
            elif item_form.has_changed() and (new := _conversation(item_form.cleaned_data)) != old:
                removed.add(old)
                added.add(new)
        for item_form in formset.extra_forms:
            if item_form.has_changed() and id(item_form) not in deleted:
                added.add(_conversation(item_form.cleaned_data))
    added.discard(None)
    removed.discard(None)
    added, removed = added - removed, removed - added
    data = {"action": "added" if add else "changed", "name": form.instance.name}
    if not add and "name" in form.changed_data and form.initial.get("name") != form.instance.name:
        data["renamed_from"] = form.initial.get("name", "")
    if added:
        data["added"] = [conversation_data(c) for c in sorted(added)]
    if removed:
        data["removed"] = [conversation_data(c) for c in sorted(removed)]
    return data


def cause_of(entry: LogEntry) -> int | None:
    """The staff action (a LogEntry pk) a sync's history entry names, if any."""
    if not entry.change_message.startswith("["):
        return None
    try:
        parts = json.loads(entry.change_message)
    except ValueError:
        return None
    for part in parts:
        if isinstance(part, dict) and isinstance(part.get("cause"), int):
            return part["cause"]
    return None


@dataclass
class Story:
    """One row of the history page: an entry in words, and the entries of what Chat then did for it."""

    entry: LogEntry
    text: str
    answers: list[tuple[LogEntry, str]] = field(default_factory=list)


def stories(entries: list[LogEntry]) -> list[Story]:
    """``entries`` (oldest first) as stories: each sync's entry under the staff action it names, when shown too."""
    told, by_pk = [], {}
    for entry in entries:
        cause = cause_of(entry)
        if cause in by_pk:
            by_pk[cause].answers.append((entry, words.history_text(entry)))
            continue
        story = Story(entry, words.history_text(entry))
        by_pk[entry.pk] = story
        told.append(story)
    return told
