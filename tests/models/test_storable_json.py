"""What a StorableJSONField keeps: text no column can hold written as its visible escape, every other text as it
was, on either database (the audit's bodies are such fields)."""

import pytest
from django.utils import timezone

from contactgroups.models import SyncAttempt


@pytest.mark.django_db
@pytest.mark.parametrize(("sent", "kept"), [
    ({"GroupName": "客户 VIP", "Type": 1}, {"GroupName": "客户 VIP", "Type": 1}),
    ({"GroupName": "nul\x00here"}, {"GroupName": "nul\\u0000here"}),
    ({"key\x00": ["half\ud800", 3]}, {"key\\u0000": ["half\\ud800", 3]}),
    ({"GroupName": "emoji 😀"}, {"GroupName": "emoji 😀"}),
    ({"GroupName": "as typed \\u0000 and \\ud800"}, {"GroupName": "as typed \\u0000 and \\ud800"}),
])
def test_an_audit_body_keeps_what_a_column_can_hold_and_escapes_the_rest(sent, kept):
    attempt = SyncAttempt.objects.create(operation="recentcontact/create_contact_group", owner_user_id="owner_json",
                                         request=sent, response=sent, outcome=SyncAttempt.Outcome.OK,
                                         started_at=timezone.now(), duration_ms=1)
    attempt.refresh_from_db()
    assert attempt.request == kept
    assert attempt.response == kept
