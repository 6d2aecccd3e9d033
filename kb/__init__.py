"""Knowledge base: documents, reply rules and the intent taxonomy (CONTRACTS.md §1, §2, §4).

`kb` imports nothing else of Kefu; every other package reads the KB through it.
"""

from kb.errors import DocumentError, KBError, KBValidationError
from kb.loader import demo_kb_dir, load_kb, load_kb_summary, parse_document, safe_yaml
from kb.models import CATEGORIES, DOC_TYPES, STATUSES, Document, KBSummary, KnowledgeBase

__all__ = [
    "CATEGORIES",
    "DOC_TYPES",
    "STATUSES",
    "Document",
    "DocumentError",
    "KBError",
    "KBSummary",
    "KBValidationError",
    "KnowledgeBase",
    "demo_kb_dir",
    "load_kb",
    "load_kb_summary",
    "parse_document",
    "safe_yaml",
]
