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
