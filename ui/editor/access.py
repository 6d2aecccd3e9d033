"""Who may use the editor: holders of an `editor` or `admin` API key (KEFU_API_KEYS).

A mounted Gradio app is not behind the service's API-key check, so the editor asks for a login: the
user name is the author recorded in versions, the password is the API key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from assistant.service.auth import Authenticator

EDITOR_ROLES = ("editor",)  # admin may do everything (Principal.may)
LOGIN_MESSAGE = "用户名填您的名字（记录为每个版本的作者），密码填 editor 或 admin 角色的 API key"


def editor_login(api_keys: Mapping[str, str]) -> Callable[[str, str], bool] | None:
    """Gradio `auth` for the editor; None in open mode (no keys configured), where anyone may edit."""
    auth = Authenticator(api_keys)
    if auth.open_mode:
        return None

    def check(username: str, password: str) -> bool:
        principal = auth.identify(password)
        return bool(username.strip()) and principal is not None and principal.may(EDITOR_ROLES)

    return check
