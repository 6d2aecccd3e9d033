"""Who may use the editor: holders of an `editor` or `admin` API key (KEFU_API_KEYS).

A mounted Gradio app is not behind the service's API-key check, so the editor asks for a login: the
password is the API key, and versions record the user name with the key's principal.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from assistant.service.auth import Authenticator

EDITOR_ROLES = ("editor",)  # admin may do everything (Principal.may)
LOGIN_MESSAGE = "用户名填您的名字（与密码的 key 一起记录为每个版本的作者），密码填 editor 或 admin 角色的 API key"


class EditorLogin:
    """Gradio `auth` for the editor: an editor or admin key as the password. The user name is bound to the
    key's principal at its first login (another key may not take it), and versions record that principal,
    so the author is the key, not free text.

    >>> login = EditorLogin({"editor-key-0123456789": "editor"})
    >>> login("小王", "editor-key-0123456789"), login.author("小王")
    (True, '小王 · key:…')
    """

    def __init__(self, api_keys: Mapping[str, str]) -> None:
        self._auth = Authenticator(api_keys)
        self._principals: dict[str, str] = {}  # user name -> principal id
        self._lock = threading.Lock()

    def __call__(self, username: str, password: str) -> bool:
        name = username.strip()
        principal = self._auth.identify(password)
        if not name or principal is None or not principal.may(EDITOR_ROLES):
            return False
        with self._lock:
            return self._principals.setdefault(name, principal.id) == principal.id

    def author(self, username: str | None) -> str | None:
        """What versions record for a logged-in user name: the name and its key's principal."""
        principal = self._principals.get((username or "").strip())
        return f"{username.strip()} · {principal}" if username and principal else None


def editor_login(api_keys: Mapping[str, str]) -> EditorLogin | None:
    """The editor's login; None in open mode (no keys configured), where anyone may edit under any name."""
    return None if Authenticator(api_keys).open_mode else EditorLogin(api_keys)
