"""Errors of the assistant package."""


class AssistantError(Exception):
    """Base class for problems a caller can fix."""


class BadConversationError(AssistantError, ValueError):
    """The conversation given is not usable (empty, last turn not the customer's, unknown role...)."""


class LLMConfigError(AssistantError):
    """The optional LLM drafter is misconfigured."""


class LLMUnavailableError(AssistantError):
    """The LLM drafter failed or did not answer within its time budget; composed drafts are served instead."""


class FollowupNotConfiguredError(AssistantError):
    """The KB has no follow-up rules (rules.yaml: followup) or lacks the script document they name."""
