"""Knowledge base: documents, reply rules and behaviour, and the intent taxonomy (CONTRACTS.md §1, §2, §4).

`kb` imports nothing else of Kefu; every other package reads the KB through it.
"""

from kb.errors import DocumentError, KBError, KBValidationError
from kb.loader import (
    demo_kb_dir,
    load_kb,
    load_kb_summary,
    load_rules_and_intents,
    parse_document,
    parse_intents,
    parse_rules,
    safe_yaml,
)
from kb.models import CATEGORIES, DOC_TYPES, STATUSES, Document, Intent, KBSummary, KnowledgeBase
from kb.rules import Rules

__all__ = [
    "CATEGORIES",
    "DOC_TYPES",
    "STATUSES",
    "Document",
    "DocumentError",
    "Intent",
    "KBError",
    "KBSummary",
    "KBValidationError",
    "KnowledgeBase",
    "Rules",
    "demo_kb_dir",
    "load_kb",
    "load_kb_summary",
    "load_rules_and_intents",
    "parse_document",
    "parse_intents",
    "parse_rules",
    "safe_yaml",
]
