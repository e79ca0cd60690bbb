"""Template filters that make the project's stored outcomes into words when a page shows them."""

from django import template

from contactgroups import words

register = template.Library()


@register.filter
def history_words(entry) -> str:
    """An admin history entry (LogEntry) in the reader's language."""
    return words.history_text(entry)
