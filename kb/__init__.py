"""Knowledge base: documents, reply rules and the intent taxonomy (CONTRACTS.md §1, §2, §4).

`kb` imports nothing else of Kefu; every other package reads the KB through it.
"""

from kb.errors import DocumentError, KBError, KBValidationError
from kb.loader import demo_kb_dir, load_kb, parse_document
from kb.models import CATEGORIES, DOC_TYPES, STATUSES, Document, KnowledgeBase

__all__ = [
    "CATEGORIES",
    "DOC_TYPES",
    "STATUSES",
    "Document",
    "DocumentError",
    "KBError",
    "KBValidationError",
    "KnowledgeBase",
    "demo_kb_dir",
    "load_kb",
    "parse_document",
]
