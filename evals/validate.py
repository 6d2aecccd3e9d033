"""Checks of an eval set against a knowledge base: intents, document ids and grounded must_include facts."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from pathlib import Path

from evals.cases import EvalCase, Problem, parse_cases, split_alternatives
from evals.errors import EvalSetError
from evals.metrics import contains_phrase
from kb.models import Document, KnowledgeBase


def document_text(doc: Document) -> str:
    """Everything of a document a reply could quote: title, body, specs, SKU and price."""
    parts = [doc.title, doc.body, *(f"{k}: {v}" for k, v in doc.specs.items())]
    if doc.sku:
        parts.append(doc.sku)
    if doc.price is not None:
        parts.append(f"{doc.price:g}")
    return "\n".join(parts)


def _hint(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f"did you mean '{close[0]}'?" if close else f"one of {', '.join(options)}"


def check_case(case: EvalCase, kb: KnowledgeBase) -> list[str]:
    """Problems of one well-formed case against `kb`, without the line prefix.

    A must_include entry is grounded when one of its alternatives occurs (numbers as whole numbers, as scoring
    matches them) in an expected document
    or in the case's own conversation or order context (the same sources the guard accepts facts from).
    Cases without doc_ids have nothing to check their must_include against.
    """
    exp = case.expected
    problems = []
    if exp.intent is not None and exp.intent not in kb.intent_names:
        problems.append(f"unknown intent '{exp.intent}' ({_hint(exp.intent, kb.intent_names)})")
    docs: list[Document] = []
    ids = [d.id for d in kb.documents]
    for doc_id in exp.doc_ids or ():
        doc = kb.get(doc_id)
        if doc is None:
            problems.append(f"doc id '{doc_id}' is not in the knowledge base ({_hint(doc_id, ids)})")
        elif not doc.published:
            problems.append(f"doc id '{doc_id}' is {doc.status}; only published documents are retrieved")
        else:
            docs.append(doc)
    if docs and exp.must_include:
        sources = [document_text(d) for d in docs]
        sources += [t.text for t in case.conversation]
        if case.context:
            sources.append(json.dumps(case.context, ensure_ascii=False))
        for entry in exp.must_include:
            if not any(contains_phrase(src, alt) for alt in split_alternatives(entry) for src in sources):
                problems.append(
                    f"must_include '{entry}' appears in none of the expected documents "
                    f"({', '.join(d.id for d in docs)}) nor the conversation; a grounded reply "
                    "cannot contain it"
                )
    return problems


def validate_cases(cases: Sequence[EvalCase], kb: KnowledgeBase) -> list[Problem]:
    """Every problem of the cases against `kb`, each at the line of its case."""
    return [Problem(c.line, p, c.id) for c in cases for p in check_case(c, kb)]


def validate_set(path: Path | str, kb: KnowledgeBase) -> tuple[list[EvalCase], list[Problem]]:
    """Load an eval set and check it against `kb`: its cases and warnings; EvalSetError listing every error,
    in line order."""
    cases, problems = parse_cases(path)
    problems += validate_cases(cases, kb)
    errors = sorted((p for p in problems if not p.warning), key=lambda p: p.line)
    if errors:
        raise EvalSetError(path, errors)
    return cases, [p for p in problems if p.warning]
