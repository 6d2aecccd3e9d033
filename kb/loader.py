"""Load and validate a KB directory (CONTRACTS.md §1) with one actionable error per problem."""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Iterable, Iterator
from datetime import date
from importlib import resources
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from kb.errors import DocumentError, KBError, KBValidationError
from kb.models import (
    CATEGORIES,
    DOC_TYPES,
    STATUSES,
    Document,
    Intent,
    IntentsFile,
    KBSummary,
    KnowledgeBase,
    fingerprint,
)
from kb.rules import BEHAVIOUR_SECTIONS, NOT_SECTIONS, Followup, HandoffModelWeights, Phrasing, Rules

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


HANDOFF_MODEL = "handoff_model.json"  # the fitted handoff model's weights, beside rules.yaml


def _defaults_file(name: str) -> Path:
    return Path(str(resources.files("kb") / "defaults" / name))


def parse_document(text: str, path: Path | str = "<text>", *, file_stamp: tuple[int, int] = (0, 0)) -> Document:
    """Parse one Markdown document with YAML front matter; raise DocumentError naming the field.
    `file_stamp` is the file's (mtime in ns, size) taken before `text` was read from it (`Document.file_stamp`)."""
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
        file_stamp=file_stamp,
    )


def _load_yaml(path: Path, what: str) -> Any:
    try:
        return safe_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as e:
        raise KBError(f"{path}: cannot read the {what}: {e}") from e


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed at `loc` of a model, for a 'did you mean' on an unknown key."""
    ann: Any = model
    for part in loc:
        ann = _unwrap(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel) and isinstance(part, str) and part in ann.model_fields:
            ann = ann.model_fields[part].annotation
        elif get_origin(ann) is tuple:
            ann = get_args(ann)[0]
        elif get_origin(ann) is dict:
            ann = get_args(ann)[1]
        else:
            return []
    ann = _unwrap(ann)
    return list(ann.model_fields) if isinstance(ann, type) and issubclass(ann, BaseModel) else []


def _unwrap(ann: Any) -> Any:
    """`X | None` → X."""
    args = [a for a in get_args(ann) if a is not type(None)]
    return args[0] if get_origin(ann) in (Union, UnionType) and len(args) == 1 else ann


# Pydantic's wording, in the terms of a YAML file.
_PLAIN = {
    "tuple_type": "must be a list, e.g. [甲, 乙]",
    "list_type": "must be a list, e.g. [甲, 乙]",
    "dict_type": "must be a mapping (key: value)",
    "model_type": "must be a mapping (key: value)",
    "model_attributes_type": "must be a mapping (key: value)",
    "bool_type": "must be true or false",
    "string_type": "must be a text",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "too_short": "is empty; give at least one",
}


def _explain(e: ValidationError, path: Path | str, model: type[BaseModel], hint: str = "") -> KBValidationError:
    """One DocumentError per problem pydantic found: the file, the key, what is wrong and what to do."""
    errors = []
    found = e.errors()
    for err in found:
        loc = tuple(err["loc"])
        if any(tuple(o["loc"])[: len(loc)] == loc and len(o["loc"]) > len(loc) for o in found):
            continue  # a list that is "too short" only because its bad items were dropped: the items say why
        key = str(loc[-1]) if loc else ""
        if err["type"] == "extra_forbidden":
            allowed = _fields_at(model, loc[:-1])
            close = difflib.get_close_matches(key, allowed, n=1)
            fix = f"did you mean '{close[0]}'?" if close else f"allowed here: {', '.join(allowed)}"
            message = f"unknown key '{key}'; {fix}"
            loc = loc[:-1]
        elif err["type"] == "missing":
            message = f"lacks '{key}'{hint if len(loc) == 2 else ''}"
            loc = loc[:-1]
        elif err["type"] == "value_error":
            message = str(err["msg"]).removeprefix("Value error, ")
        else:
            message = f"{_PLAIN.get(err['type'], err['msg'])} (got {err['input']!r})"
        errors.append(DocumentError(path, _dotted(loc) or None, message))
    return KBValidationError(errors)


def parse_intents(data: Any, path: Path | str = "intents.yaml") -> tuple[Intent, ...]:
    """Validate the content of an intents.yaml: a top-level `intents:` list of {name, stage, description,
    examples, keywords}; raise KBValidationError naming the file and the key."""
    if isinstance(data, list):
        data = {"intents": data}
    if not isinstance(data, dict) or not isinstance(data.get("intents"), list) or not data["intents"]:
        raise KBError(f"{path}: expected a top-level 'intents:' list of {{name, stage, description, examples}}")
    try:
        return IntentsFile.model_validate(data).intents
    except ValidationError as e:
        raise _explain(e, path, IntentsFile) from None


def load_intents(path: Path) -> tuple[Intent, ...]:
    """Read an intents.yaml (CONTRACTS.md §2)."""
    return parse_intents(_load_yaml(path, "intent taxonomy"), path)


@functools.cache
def default_rules_data() -> dict[str, Any]:
    """The shipped rules.yaml as data: where a KB's rules.yaml lacks a behaviour section, these apply."""
    data = _load_yaml(_defaults_file("rules.yaml"), "default reply rules")
    assert isinstance(data, dict)
    return data


# Sections that gained keys after the first release (`LATER_KEYS`): a KB's own copy that lacks them gets the shipped
# ones, so a rules.yaml written before them keeps loading.
LATER_KEYED: tuple[tuple[str, type[Phrasing] | type[Followup]], ...] = (("phrasing", Phrasing), ("followup", Followup))


def parse_rules(data: Any, path: Path | str = "rules.yaml", *, intent_names: Iterable[str] | None = None) -> Rules:
    """Validate the content of a rules.yaml (CONTRACTS.md §4) into typed `Rules`. Behaviour sections the file
    lacks come from the shipped defaults; with `intent_names`, the file's own sections may name only those
    intents. Raises KBValidationError naming the file, the key and the fix."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise KBError(f"{path}: expected a mapping of rule kinds (banned_phrases, vague_words, ..., handoff)")
    misplaced = [k for k in NOT_SECTIONS if k in data]
    if misplaced:
        raise KBError(
            f"{path}: '{misplaced[0]}' is not a section of rules.yaml; it is read from {HANDOFF_MODEL} beside it"
        )
    defaults = default_rules_data()
    merged = {**{k: v for k, v in defaults.items() if k in BEHAVIOUR_SECTIONS}, **data}
    for section, model in LATER_KEYED:
        if isinstance(data.get(section), dict):
            later = {k: v for k, v in defaults[section].items() if k in model.LATER_KEYS}
            merged[section] = {**later, **data[section]}
    try:
        rules = Rules.model_validate(merged)
    except ValidationError as e:
        raise _explain(e, path, Rules, hint=" (or delete the whole section to use the shipped defaults)") from None
    if intent_names is not None:
        known = set(intent_names)
        errors = [
            DocumentError(
                path,
                key,
                f"names intent(s) {', '.join(sorted(unknown))} that intents.yaml does not define; "
                f"use one of {', '.join(sorted(known))}",
            )
            for key, names in rules.intents_named().items()
            if key.split(".")[0] in data and (unknown := names - known)
        ]
        if errors:
            raise KBValidationError(errors)
    if "tickets" in data and rules.tickets is not None:  # the file's own table names the file's own reasons
        codes = {r.code for r in rules.handoff.reasons}
        bad = [
            DocumentError(
                path,
                f"tickets.{key}",
                f"names reason(s) {', '.join(sorted(unknown))} that "
                f"handoff.reasons does not define; use one of {', '.join(sorted(codes))}",
            )
            for key, table in (("reasons", rules.tickets.reasons), ("teams", rules.tickets.teams))
            if (unknown := set(table) - codes)
        ]
        if bad:
            raise KBValidationError(bad)
    return rules


def load_rules(path: Path, *, intent_names: Iterable[str] | None = None) -> Rules:
    """Read a rules.yaml (CONTRACTS.md §4)."""
    return parse_rules(_load_yaml(path, "reply rules"), path, intent_names=intent_names)


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
            with open(path, encoding="utf-8") as fh:
                st = os.fstat(fh.fileno())  # before reading: a later write then shows as a newer stamp
                text = fh.read()
            doc = parse_document(text, rel, file_stamp=(st.st_mtime_ns, st.st_size))
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


def load_handoff_model(path: Path) -> HandoffModelWeights:
    """Read a handoff_model.json (weights of the fitted handoff model, written by `kefu handoff fit`)."""
    mend = "the file is written by `kefu handoff fit`: re-fit it, or delete it to use the shipped weights"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise KBError(f"{path}: cannot read the handoff model: {e}; {mend}") from e
    try:
        return HandoffModelWeights.model_validate(data)
    except ValidationError as e:
        raise KBValidationError(
            [*_explain(e, path, HandoffModelWeights).errors, DocumentError(path, None, mend)]
        ) from None


def load_rules_and_intents(root: Path | str | None = None) -> tuple[Rules, tuple[Intent, ...]]:
    """A KB folder's rules.yaml and intents.yaml, or the defaults where it lacks them; no document is read.
    The handoff model's weights come from the folder's handoff_model.json, or the shipped one (restricted to
    the reasons the handoff table defines)."""
    root = _kb_root(root)
    rules_path = root / "rules.yaml"
    intents_path = root / "intents.yaml"
    intents = load_intents(intents_path if intents_path.is_file() else _defaults_file("intents.yaml"))
    rules = load_rules(
        rules_path if rules_path.is_file() else _defaults_file("rules.yaml"), intent_names=[i.name for i in intents]
    )
    model_path = root / HANDOFF_MODEL if (root / HANDOFF_MODEL).is_file() else _defaults_file(HANDOFF_MODEL)
    if model_path.is_file():
        weights = load_handoff_model(model_path).only(r.code for r in rules.handoff.reasons)
        rules = rules.model_copy(update={"handoff_model": weights})
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
    rules, intents = load_rules_and_intents(root)
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
    rules, intents = load_rules_and_intents(root)
    return KBSummary(root, rules, intents, fingerprint(published), len(published))
