"""The pure limit checks, at their edges."""

from contactgroups.chat import protocol


def test_cjk_name_of_63_bytes_is_accepted():
    name = "会" * 21
    assert protocol.utf8_length(name) == 63
    assert protocol.validate_group_name(name) == []


def test_cjk_name_of_66_bytes_is_refused_with_both_counts():
    [message] = protocol.validate_group_name("会" * 22)
    assert "66 bytes" in message
    assert "at most 64" in message


def test_emoji_counts_as_four_bytes():
    assert protocol.utf8_length("😀") == 4
    assert protocol.validate_group_name("a" * 60 + "😀") == []
    assert protocol.validate_group_name("a" * 61 + "😀") != []


def test_empty_and_blank_names_are_refused():
    assert protocol.validate_group_name("") == ["A group name cannot be empty."]
    assert protocol.validate_group_name("   ") == ["A group name cannot be empty."]


def test_control_characters_are_refused():
    assert any("control characters" in m for m in protocol.validate_group_name("work\tfriends"))


def test_user_id_of_33_bytes_is_refused():
    assert protocol.validate_user_id("u" * 32) == []
    [message] = protocol.validate_user_id("u" * 33)
    assert "33 bytes" in message and "at most 32" in message


def test_one_to_one_with_group_id_is_refused():
    [message] = protocol.validate_conversation(protocol.TYPE_C2C, "", "@TGS#1B2AUI7RZ")
    assert "one-to-one" in message


def test_group_conversation_with_user_is_refused():
    [message] = protocol.validate_conversation(protocol.TYPE_GROUP, "user_0002", "")
    assert "group conversation" in message


def test_unknown_type_is_refused():
    assert protocol.validate_conversation(3, "user_0002", "") != []


def test_group_count_edges():
    assert protocol.validate_group_count(protocol.GROUPS_PER_USER_MAX) == []
    assert protocol.validate_group_count(protocol.GROUPS_PER_USER_MAX + 1) != []


def test_grouped_conversation_count_edges():
    assert protocol.validate_grouped_conversation_count(1000) == []
    [message] = protocol.validate_grouped_conversation_count(1001)
    assert "1001" in message and "1000" in message


def test_duplicates_are_listed_once_in_order():
    pairs = [(1, "a"), (2, "g"), (1, "a"), (1, "b"), (1, "a"), (2, "g")]
    assert protocol.find_duplicates(pairs) == [(1, "a"), (2, "g")]


def test_chunks_of_a_request():
    assert [len(c) for c in protocol.chunks(list(range(250)))] == [100, 100, 50]
    assert list(protocol.chunks([])) == []
