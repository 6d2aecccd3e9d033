"""Errors of the helpdesk integrations."""

from __future__ import annotations

from assistant.errors import AssistantError


class HelpdeskError(AssistantError):
    """A helpdesk integration could not do what was asked."""


class HelpdeskApiError(HelpdeskError):
    """The helpdesk's API refused or failed a call (after the retries); `status` is its HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BadSignatureError(HelpdeskError):
    """A webhook's signature is missing, stale or wrong."""
