"""Document texts as the editor handles them: split, join, validate (CONTRACTS.md §1), set managed fields."""

from __future__ import annotations

import difflib
import re
from typing import Any

import yaml

from kb import CATEGORIES, DOC_TYPES, Document, DocumentError, parse_document, safe_yaml
from kb.loader import KNOWN_FIELDS
from ui.editor.errors import Problem

_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.S)
# Fields the editor sets itself on every save; what a person types there is replaced.
MANAGED_FIELDS = ("status", "version", "updated")


def split_text(text: str) -> tuple[str, str]:
    """(front matter YAML, body) of a document text; a text without front matter is all body."""
    m = _FRONT.match(text)
    if not m:
        return "", text
    return m.group(1), m.group(2).lstrip("\n")


def join_text(front_matter: str, body: str) -> str:
    """The file text of a front matter and a body."""
    return f"---\n{front_matter.strip()}\n---\n\n{body.strip()}\n"


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True).strip().removesuffix("...").strip()


def set_fields(text: str, **fields: Any) -> str:
    """Replace (or append) top-level front-matter fields, keeping every other line as the person wrote it."""
    front, body = split_text(text)
    lines = front.splitlines()
    for key, value in fields.items():
        line = f"{key}: {_scalar(value)}"
        pattern = re.compile(rf"^{re.escape(key)}\s*:")
        at = next((i for i, x in enumerate(lines) if pattern.match(x)), None)
        if at is None:
            lines.append(line)
            continue
        # A block value (an indented mapping or list under the key) goes with the key it belongs to.
        end = at + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
            end += 1
        lines[at:end] = [line]
    return join_text("\n".join(lines), body)


def strip_managed(text: str) -> str:
    """The text without the fields the editor sets, so that a diff shows only what a person changed."""
    front, body = split_text(text)
    keep = [x for x in front.splitlines() if not re.match(rf"^(?:{'|'.join(MANAGED_FIELDS)})\s*:", x)]
    return join_text("\n".join(keep), body) if front else text


def front_matter_of(text: str) -> dict[str, Any]:
    """The front matter as a mapping, or {} when it does not parse."""
    front, _ = split_text(text)
    try:
        data = safe_yaml(front) if front else None
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def validate_text(text: str, *, path: str = "文档") -> tuple[Document | None, list[Problem]]:
    """Check a document text against CONTRACTS.md §1; blocking problems first, then warnings."""
    try:
        doc = parse_document(text, path)
    except DocumentError as e:
        return None, [Problem(e.field, e.reason)]
    problems: list[Problem] = []
    for key in doc.extra:
        close = difflib.get_close_matches(key, sorted(KNOWN_FIELDS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else " (kept, but nothing reads it)"
        problems.append(Problem(key, f"unknown front-matter field{hint}", blocking=False))
    if not re.search(r"^#{1,6}\s", doc.body, re.M) and len(doc.body) > 200:
        problems.append(
            Problem(
                "body",
                "no '#'/'##' heading: headings split a document into the passages "
                "retrieval returns, e.g. '## 退货条件'",
                blocking=False,
            )
        )
    if doc.type == "faq" and not re.search(r"^#{1,6}\s*问", doc.body, re.M):
        problems.append(Problem("body", "an FAQ reads best as '## 问：…' headings, one per question", blocking=False))
    return doc, problems


def template(
    doc_type: str = "faq", category: str = "general", *, doc_id: str = "", title: str = "", body: str = ""
) -> str:
    """A new document's text, ready to fill in."""
    if doc_type not in DOC_TYPES:
        raise ValueError(f"type '{doc_type}' is not one of {', '.join(DOC_TYPES)}")
    if category not in CATEGORIES:
        raise ValueError(f"category '{category}' is not one of {', '.join(CATEGORIES)}")
    id_line = f"id: {doc_id}" if doc_id else f"id:   # 例如 {doc_type}-gift-wrap：小写字母、数字和 -，保存后不能再改"
    front = {"title": title or "标题", "type": doc_type, "category": category, "tags": []}
    lines = [id_line, *(f"{k}: {_scalar(v)}" for k, v in front.items())]
    default_body = {
        "faq": "## 问：客户会怎么问？\n\n用客户听得懂的话回答：能做什么、怎么做、多久。",
        "policy": "## 适用范围\n\n这条规则适用于哪些商品和情况。\n\n## 处理方式\n\n申请路径 → 审核时长 → 到账时间。",
        "product": "## 简介\n\n材质、规格、适合谁。\n\n## 常见问题\n\n尺码、保养、与其他款的区别。",
        "script": "## 什么时候用\n\n场景说明。\n\n## 话术\n\n「您好，……」",
    }[doc_type]
    return join_text("\n".join(lines), body or default_body)
