"""API keys and the roles they grant."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

ROLES = ("agent", "editor", "admin")
MIN_KEY_CHARS = 16


@dataclass(frozen=True)
class Principal:
    """Who is calling: `id` names a key without revealing it (or the client IP in open mode)."""

    id: str
    role: str

    def may(self, roles: tuple[str, ...]) -> bool:
        return self.role == "admin" or self.role in roles


class Authenticator:
    """Maps API keys to roles; with no keys configured every caller is an admin (open mode).

    >>> Authenticator({"k1-0123456789abcdef": "agent"}).identify("k1-0123456789abcdef")
    Principal(id='key:...', role='agent')
    """

    def __init__(self, keys: Mapping[str, str]) -> None:
        bad = {k: r for k, r in keys.items() if r not in ROLES}
        if bad:
            key, role = next(iter(bad.items()))
            raise ValueError(f"KEFU_API_KEYS: key '{key[:4]}…' has role {role!r}; use one of {', '.join(ROLES)}")
        short = [k for k in keys if len(k.strip()) < MIN_KEY_CHARS]
        if short:
            raise ValueError(
                f"KEFU_API_KEYS: key '{short[0][:4]}…' has {len(short[0].strip())} characters; keys need at least "
                f"{MIN_KEY_CHARS} (a short key can be guessed): make one with `openssl rand -hex 24`"
            )
        self._keys = [(k.encode(), r) for k, r in keys.items()]

    @property
    def open_mode(self) -> bool:
        return not self._keys

    def identify(self, key: str | None) -> Principal | None:
        """The principal of `key`, or None when it is missing or unknown (always a principal in open mode)."""
        if self.open_mode:
            return Principal("open", "admin")
        if not key:
            return None
        given = key.encode()
        role = None
        for known, r in self._keys:  # compare against every key, in constant time each
            if hmac.compare_digest(known, given):
                role = r
        if role is None:
            return None
        return Principal("key:" + hashlib.sha256(given).hexdigest()[:12], role)
