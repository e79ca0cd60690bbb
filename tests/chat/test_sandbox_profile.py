"""The sandbox refuses a profile value over Chat's 500 bytes on import with 40601, importing nothing of the call
("资料管理", https://cloud.tencent.com/document/product/269/1500: Nick and FaceUrl are strings of at most 500 bytes)."""

from contactgroups.chat import errors, protocol
from tests.chat.test_sandbox import CHECK, IMPORT, MULTI_IMPORT, assert_refused, call

# 166 CJK characters (3 bytes each) and two letters: exactly the 500 bytes Chat keeps.
AT_THE_LIMIT = "名" * 166 + "ab"
OVER_THE_LIMIT = AT_THE_LIMIT + "c"


def imported(sandbox, *user_ids) -> list[str]:
    answer = call(sandbox, CHECK, {"CheckItem": [{"UserID": user_id} for user_id in user_ids]})
    return [item["UserID"] for item in answer["ResultItem"] if item["AccountStatus"] == protocol.ACCOUNT_IMPORTED]


def test_account_import_with_a_nick_over_500_bytes_is_40601_and_imports_nothing(sandbox):
    assert protocol.utf8_length(OVER_THE_LIMIT) == 501

    answer = call(sandbox, IMPORT, {"UserID": "user_0001", "Nick": OVER_THE_LIMIT})

    assert_refused(answer, errors.PROFILE_VALUE_TOO_LONG)
    assert "501 bytes" in answer["ErrorInfo"]
    assert imported(sandbox, "user_0001") == []


def test_a_nick_of_exactly_500_bytes_is_kept(sandbox):
    assert call(sandbox, IMPORT, {"UserID": "user_0001", "Nick": AT_THE_LIMIT})["ErrorCode"] == errors.OK

    assert sandbox.snapshot()["accounts"]["user_0001"]["Nick"] == AT_THE_LIMIT


def test_a_face_url_over_500_bytes_is_40601_too(sandbox):
    answer = call(sandbox, IMPORT, {"UserID": "user_0001", "FaceUrl": "https://example.com/" + "a" * 481})

    assert_refused(answer, errors.PROFILE_VALUE_TOO_LONG)


def test_multiaccount_import_with_one_nick_over_500_bytes_is_40601_for_the_whole_call(sandbox):
    answer = call(sandbox, MULTI_IMPORT, {"AccountList": [
        {"UserID": "user_0001", "Nick": "Alice"}, {"UserID": "user_0002", "Nick": OVER_THE_LIMIT}]})

    assert_refused(answer, errors.PROFILE_VALUE_TOO_LONG)
    assert imported(sandbox, "user_0001", "user_0002") == []
