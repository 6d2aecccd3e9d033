"""Masking of personal data before anything is stored: the same patterns the guard's `pii_echo` rule uses."""

from __future__ import annotations

from assistant.guard import _PII

# The placeholders real masked chat logs use, so stored text still reads naturally and the indexer's
# tokenizer already skips them.
LABELS = {"phone": "[手机号]", "id_number": "[身份证号]", "address": "[地址]"}


def mask_pii(text: str) -> str:
    """`text` with phone numbers, ID numbers and street addresses replaced by placeholders."""
    for kind, pattern in _PII.items():
        text = pattern.sub(LABELS.get(kind, "[隐私]"), text)
    return text
