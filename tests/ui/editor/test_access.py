"""The editor's login: editor or admin keys, and a user name bound to the key that first used it."""

from ui.editor.access import EditorLogin, editor_login

KEYS = {"editor-key-0123456789": "editor", "admin-key-0123456789a": "admin", "agent-key-0123456789a": "agent"}


def test_editor_and_admin_keys_log_in_and_the_author_is_the_key() -> None:
    login = EditorLogin(KEYS)
    assert login("小王", "editor-key-0123456789") and login("老板", "admin-key-0123456789a")
    assert (
        not login("小李", "agent-key-0123456789a")
        and not login("小王", "wrong")
        and not login(" ", "editor-key-0123456789")
    )
    author = login.author("小王")
    assert author is not None and author.startswith("小王 · key:") and "editor-key" not in author
    assert login.author("没登录的人") is None


def test_another_key_cannot_take_a_name() -> None:
    # Issue 14 (13): the free-text user name was recorded as the author, whoever's key logged in.
    login = EditorLogin(KEYS)
    assert login("小王", "editor-key-0123456789")
    assert not login("小王", "admin-key-0123456789a")
    first = login.author("小王")
    assert login("小王", "editor-key-0123456789") and login.author("小王") == first


def test_open_mode_has_no_login() -> None:
    assert editor_login({}) is None
