"""Load and validate a KB directory (CONTRACTS.md §1) with one actionable error per problem."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kb.errors import DocumentError, KBError, KBValidationError
from kb.models import CATEGORIES, DOC_TYPES, STATUSES, Document, Intent, KBSummary, KnowledgeBase, fingerprint

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")  # used with fullmatch: `$` would admit a final newline
REQUIRED = ("id", "title", "type", "category")
KNOWN_FIELDS = {"id", "title", "type", "category", "tags", "status", "version", "updated", "sku", "price", "specs"}
MAX_FRONT_MATTER_CHARS = 16_000
MAX_DOCUMENT_CHARS = 500_000
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.S)


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader without anchors and aliases: `&a [*a, *a, …]` nests into gigabytes from a few hundred bytes,
    and a KB file never needs them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&name, *name) are not allowed; write the value out", event.start_mark
            )
        return super().compose_node(parent, index)


def safe_yaml(text: str) -> Any:
    """`yaml.safe_load` that refuses anchors and aliases (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=_NoAliasLoader)


def demo_kb_dir() -> Path:
    """The demo KB shipped with the project (the `kb` package folder itself)."""
    return Path(str(resources.files("kb")))


def _defaults_file(name: str) -> Path:
    return Path(str(resources.files("kb") / "defaults" / name))


def parse_document(text: str, path: Path | str = "<text>") -> Document:
    """Parse one Markdown document with YAML front matter; raise DocumentError naming the field."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise DocumentError(
            path, None, f"the document has {len(text)} characters; the limit is {MAX_DOCUMENT_CHARS}: split it"
        )
    m = _FRONT_MATTER.match(text)
    if not m:
        raise DocumentError(
            path,
            None,
            "no YAML front matter: the file must start with a '---' line, "
            "the fields (id, title, type, category), and a closing '---' line",
        )
    if len(m.group(1)) > MAX_FRONT_MATTER_CHARS:
        raise DocumentError(
            path,
            None,
            f"the front matter has {len(m.group(1))} characters; the limit is {MAX_FRONT_MATTER_CHARS}: "
            "put long text in the body",
        )
    try:
        meta = safe_yaml(m.group(1))
    except RecursionError as e:
        raise DocumentError(path, None, "front matter is nested too deeply; write flat fields") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" (front matter line {mark.line + 1})" if mark is not None else ""
        raise DocumentError(path, None, f"front matter is not valid YAML{line}: {getattr(e, 'problem', e)}") from e
    if not isinstance(meta, dict):
        raise DocumentError(path, None, "front matter must be a mapping of fields (key: value)")
    for key in REQUIRED:
        if meta.get(key) in (None, ""):
            allowed = {
                "type": f" (one of {', '.join(DOC_TYPES)})",
                "category": f" (one of {', '.join(CATEGORIES)})",
            }.get(key, "")
            raise DocumentError(path, key, f"front matter lacks '{key}'{allowed}")
    doc_id = str(meta["id"])
    if not ID_PATTERN.fullmatch(doc_id):
        raise DocumentError(
            path,
            "id",
            f"'{doc_id}' is not allowed: use lowercase letters, digits and '-', "
            "starting with a letter or digit, e.g. policy-return-7day",
        )
    doc_type = str(meta["type"])
    if doc_type not in DOC_TYPES:
        raise DocumentError(path, "type", f"'{doc_type}' is not one of {', '.join(DOC_TYPES)}")
    category = str(meta["category"])
    if category not in CATEGORIES:
        raise DocumentError(path, "category", f"'{category}' is not one of {', '.join(CATEGORIES)}")
    status = str(meta.get("status") or "published")
    if status not in STATUSES:
        raise DocumentError(path, "status", f"'{status}' is not one of {', '.join(STATUSES)}")
    version = meta.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DocumentError(path, "version", f"'{version}' must be a positive integer, e.g. 3")
    updated = meta.get("updated")
    if updated is not None and not isinstance(updated, date):
        try:
            updated = date.fromisoformat(str(updated))
        except ValueError as e:
            raise DocumentError(path, "updated", f"'{updated}' is not an ISO date like 2026-11-01") from e
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in re.split(r"[,，]", tags) if t.strip()]
    if not isinstance(tags, list):
        raise DocumentError(path, "tags", "must be a list, e.g. [退货, 七天无理由]")
    specs = meta.get("specs") or {}
    if not isinstance(specs, dict):
        raise DocumentError(path, "specs", "must be a mapping, e.g. {材质: 纯棉, 颜色: 白色}")
    price = meta.get("price")
    if price is not None:
        try:
            price = float(price)
        except (TypeError, ValueError) as e:
            raise DocumentError(path, "price", f"'{price}' must be a number, e.g. 79 or 79.9") from e
    body = m.group(2).strip()
    if not body:
        raise DocumentError(path, "body", "the document has no text after the front matter")
    return Document(
        id=doc_id,
        title=str(meta["title"]).strip(),
        type=doc_type,
        category=category,
        body=body,
        tags=tuple(str(t) for t in tags),
        status=status,
        version=version,
        updated=updated,
        sku=str(meta["sku"]) if meta.get("sku") is not None else None,
        price=price,
        specs={str(k): str(v) for k, v in specs.items()},
        extra={k: v for k, v in meta.items() if k not in KNOWN_FIELDS},
        path=str(path),
    )


def _load_yaml(path: Path, what: str) -> Any:
    try:
        return safe_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as e:
        raise KBError(f"{path}: cannot read the {what}: {e}") from e


def load_intents(path: Path) -> tuple[Intent, ...]:
    """Read an intents.yaml: a list of {name, stage, description, examples}."""
    data = _load_yaml(path, "intent taxonomy")
    items = data.get("intents") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise KBError(f"{path}: expected a top-level 'intents:' list of {{name, stage, examples}}")
    intents = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict) or not item.get("name"):
            raise KBError(f"{path}: intent #{n} lacks 'name'")
        stage = str(item.get("stage") or "general")
        if stage not in CATEGORIES:
            raise KBError(f"{path}: intent '{item['name']}': stage '{stage}' is not one of {', '.join(CATEGORIES)}")
        examples = item.get("examples") or []
        if not isinstance(examples, list) or not all(isinstance(x, str) for x in examples):
            raise KBError(f"{path}: intent '{item['name']}': 'examples' must be a list of customer messages")
        keywords = item.get("keywords") or []
        if not isinstance(keywords, list):
            raise KBError(f"{path}: intent '{item['name']}': 'keywords' must be a list of words")
        intents.append(
            Intent(
                str(item["name"]),
                stage,
                str(item.get("description") or ""),
                tuple(examples),
                tuple(str(k) for k in keywords),
            )
        )
    names = [i.name for i in intents]
    dupes = sorted({x for x in names if names.count(x) > 1})
    if dupes:
        raise KBError(f"{path}: intent names must be unique; repeated: {', '.join(dupes)}")
    return tuple(intents)


def load_rules(path: Path) -> dict[str, Any]:
    """Read a rules.yaml; its keys are checked by the guard that applies them."""
    data = _load_yaml(path, "reply rules")
    if not isinstance(data, dict):
        raise KBError(f"{path}: expected a mapping of rule kinds (banned_phrases, vague_words, ...)")
    return data


def _kb_root(root: Path | str | None) -> Path:
    root = Path(root) if root is not None else demo_kb_dir()
    if not root.is_dir():
        raise KBError(f"{root}: no such knowledge-base directory (expected a folder with docs/**/*.md)")
    if not (root / "docs").is_dir():
        raise KBError(f"{root}: no 'docs' folder; put one Markdown file per document under {root / 'docs'}/")
    return root


def _documents(root: Path, errors: list[DocumentError]) -> Iterator[Document]:
    """Parse `docs/**/*.md` one file at a time, appending each bad file's problem to `errors`."""
    seen: dict[str, str] = {}
    for path in sorted((root / "docs").rglob("*.md")):
        rel = path.relative_to(root)
        try:
            doc = parse_document(path.read_text(encoding="utf-8"), rel)
        except UnicodeDecodeError:
            errors.append(DocumentError(rel, None, "is not UTF-8 text; save it as UTF-8"))
            continue
        except DocumentError as e:
            errors.append(e)
            continue
        if doc.id in seen:
            errors.append(DocumentError(rel, "id", f"'{doc.id}' is already used by {seen[doc.id]}; ids must be unique"))
            continue
        seen[doc.id] = str(rel)
        yield doc


def _check(root: Path, errors: list[DocumentError], n_docs: int, *, strict: bool) -> None:
    if errors and strict:
        raise KBValidationError(errors)
    if not n_docs and strict:
        raise KBError(f"{root / 'docs'}: no documents found (expected Markdown files with front matter)")


def _rules_and_intents(root: Path) -> tuple[dict[str, Any], tuple[Intent, ...]]:
    rules_path = root / "rules.yaml"
    intents_path = root / "intents.yaml"
    rules = load_rules(rules_path if rules_path.is_file() else _defaults_file("rules.yaml"))
    intents = load_intents(intents_path if intents_path.is_file() else _defaults_file("intents.yaml"))
    return rules, intents


def load_kb(root: Path | str | None = None, *, strict: bool = True) -> KnowledgeBase:
    """Load every `docs/**/*.md` of a KB directory, plus its rules and intents (or the defaults).

    With `strict`, any bad file raises KBValidationError listing every problem; otherwise bad files
    are skipped (the editor uses this to show a KB that is being repaired).
    """
    root = _kb_root(root)
    errors: list[DocumentError] = []
    docs = list(_documents(root, errors))
    _check(root, errors, len(docs), strict=strict)
    rules, intents = _rules_and_intents(root)
    return KnowledgeBase(root=root, documents=tuple(docs), rules=rules, intents=intents)


def load_kb_summary(root: Path | str | None = None, *, strict: bool = True) -> KBSummary:
    """What `load_kb(root).summary()` returns, reading one document at a time and keeping none: for serving,
    which needs the KB's rules, intents and version but not its documents."""
    root = _kb_root(root)
    errors: list[DocumentError] = []
    n_docs = 0
    published: list[tuple[str, str]] = []
    for doc in _documents(root, errors):
        n_docs += 1
        if doc.published:
            published.append((doc.id, doc.content_hash))
    _check(root, errors, n_docs, strict=strict)
    rules, intents = _rules_and_intents(root)
    return KBSummary(root, rules, intents, fingerprint(published), len(published))
