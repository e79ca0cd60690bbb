"""The error table and the exceptions built from it."""

import pickle

from contactgroups.chat import errors


def test_an_error_keeps_its_code_and_details_across_pickling():
    error = errors.error_from_code(50005, endpoint="recentcontact/create_contact_group", info="busy",
                                   http_status=200, request={"From_Account": "u"}, response={"ErrorCode": 50005})
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is errors.ChatRetryableError
    assert (copy.code, copy.info, copy.endpoint, copy.http_status) == (50005, "busy",
                                                                      "recentcontact/create_contact_group", 200)
    assert copy.request == {"From_Account": "u"} and str(copy) == str(error)
    assert copy.retryable


def test_an_unknown_code_is_a_failure_with_its_number():
    error = errors.error_from_code(51012, info="something")
    assert type(error) is errors.ChatError and not error.retryable
    assert "51012" in str(error) and "something" in str(error)


def test_every_throttling_code_is_retryable():
    assert errors.THROTTLING_CODES == {60007, 60011, 60018, 60019}
    assert all(errors.is_retryable(code) for code in errors.THROTTLING_CODES)


def test_permanent_codes_are_not_retried():
    for code in (50001, 50002, 50003, 51006, 51007, 51008, 51009, 51010, 51011):
        assert not errors.is_retryable(code), code


def test_usersig_codes_are_authentication_errors_that_are_not_retried():
    """Account codes of "REST API 公共错误码" (https://cloud.tencent.com/document/product/269/1671): 70001 expired,
    70003 unreadable, 70009 other key, 70013 other identifier, 70014 other SDKAppID, 70016 and 70020 no key or no
    app in this region (a wrong region), 70050 too many failures (wait a minute)."""
    for code in (70001, 70003, 70009, 70013, 70014, 70016, 70020, 70050):
        error = errors.error_from_code(code)
        assert isinstance(error, errors.ChatAuthError) and not error.retryable, code
        assert errors.describe(code) != errors.describe(99999), code


def test_the_wrong_region_codes_say_to_check_the_region():
    for code in (70016, 70020):
        assert "region" in errors.describe(code)


def test_too_many_usersig_failures_says_to_wait_a_minute():
    assert "minute" in errors.describe(70050)


def test_a_blacklisted_account_and_an_account_not_imported_have_their_own_meaning():
    """Same table: 70051 the account is blacklisted, 70107 the account was never imported."""
    assert "blacklist" in errors.describe(70051)
    assert type(errors.error_from_code(70107)) is errors.ChatAccountNotImportedError


def test_account_api_codes_tell_a_bad_field_from_a_busy_server():
    """"导入多个账号" (https://www.tencentcloud.com/zh/document/product/1047/34954): 70402 a missing or invalid
    field, 70403 administrator needed, 70169 and 70202 internal timeouts and 70500 internal error (retry later)."""
    assert type(errors.error_from_code(70402)) is errors.ChatInvalidRequestError
    assert type(errors.error_from_code(70403)) is errors.ChatAuthError
    assert all(errors.is_retryable(code) for code in (70169, 70202, 70500))
    assert not errors.is_retryable(70402)


def test_60002_is_the_url_and_60003_the_json_body():
    """"REST API 公共错误码" (https://cloud.tencent.com/document/product/269/1671)."""
    assert "URL" in errors.describe(60002) and "JSON" not in errors.describe(60002)
    assert "JSON" in errors.describe(60003)


def test_every_meaning_is_one_plain_sentence_without_markup():
    for entry in errors.TABLE.values():
        assert entry.text[0].isupper() and entry.text.endswith("."), entry.code
        assert not any(mark in entry.text for mark in ("<", "{", "`", "\n")), entry.code
