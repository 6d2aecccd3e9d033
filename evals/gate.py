"""The CI gate: thresholds kept in the repo (`evals/gates/*.json`) that a run's metrics must meet.

```json
{"retrieval.recall@5": {"min": 0.8},
 "reply.must_not_include_violation_rate": {"max": 0.0},
 "reply.handoff_recall": {"min": 0.7, "lowered": {"from": ">= 0.75", "reason": "new cases", "date": "2026-12-05"}},
 "latency_ms.p95": {"max": 2000, "ratchet": false, "note": "2-core CI machine"}}
```

Thresholds only move up: `ratchet` tightens them to what a run reached; `lower` loosens named ones to what a
run reached and records why next to the threshold (`kefu eval ratchet --allow-lower KEY --reason "..."`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evals.errors import EvalError
from evals.metrics import BY_KEY, flatten, metric_for

ENTRY_KEYS = ("min", "max", "note", "ratchet", "lowered")


@dataclass(frozen=True)
class Threshold:
    key: str
    min: float | None = None
    max: float | None = None
    note: str | None = None
    ratchet: bool = True  # `kefu eval ratchet` may tighten it to what a run reached
    lowered: dict[str, str] | None = None  # the last loosening: from what, why, when

    def describe(self) -> str:
        parts = ([f">= {self.min:g}"] if self.min is not None else []) + (
            [f"<= {self.max:g}"] if self.max is not None else []
        )
        return " and ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k in ENTRY_KEYS:
            v = getattr(self, k)
            if v is not None and not (k == "ratchet" and v is True):
                d[k] = v
        return d


@dataclass(frozen=True)
class GateFailure:
    key: str
    value: float | None
    threshold: Threshold

    @property
    def message(self) -> str:
        if self.value is None:
            return (
                f"{self.key} is null: no case of the set is labelled for it (threshold "
                f"{self.threshold.describe()}); label cases for it or drop the threshold"
            )
        if self.threshold.min is not None and self.value < self.threshold.min:
            return f"{self.key} = {self.value:g}, below the minimum {self.threshold.min:g}"
        return f"{self.key} = {self.value:g}, above the maximum {self.threshold.max:g}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_thresholds(data: Any, source: str = "thresholds") -> dict[str, Threshold]:
    """Check a decoded thresholds file; EvalError naming the first bad entry and what is allowed."""
    if not isinstance(data, dict) or not data:
        raise EvalError(
            f'{source}: expected an object of metric → {{"min": x}} / {{"max": y}}, '
            'e.g. {"retrieval.recall@5": {"min": 0.8}}'
        )
    out = {}
    for key, entry in data.items():
        if metric_for(key) is None:
            raise EvalError(f"{source}: '{key}' is not a metric; use one of {', '.join(BY_KEY)}")
        if not isinstance(entry, dict) or not ({"min", "max"} & set(entry)):
            raise EvalError(f'{source}: \'{key}\' must be an object with "min" and/or "max", e.g. {{"min": 0.8}}')
        extra = set(entry) - set(ENTRY_KEYS)
        if extra:
            raise EvalError(
                f"{source}: '{key}': unknown field(s) {', '.join(sorted(extra))}; allowed: {', '.join(ENTRY_KEYS)}"
            )
        for bound in ("min", "max"):
            if bound in entry and not _number(entry[bound]):
                raise EvalError(f"{source}: '{key}': \"{bound}\" must be a number, got {entry[bound]!r}")
        if "ratchet" in entry and not isinstance(entry["ratchet"], bool):
            raise EvalError(f"{source}: '{key}': \"ratchet\" must be true or false")
        lowered = entry.get("lowered")
        if lowered is not None and not (isinstance(lowered, dict) and str(lowered.get("reason") or "").strip()):
            raise EvalError(
                f'{source}: \'{key}\': "lowered" must record a "reason"; lower a threshold with '
                '`kefu eval ratchet RUN --gate FILE --allow-lower KEY --reason "..."`'
            )
        out[key] = Threshold(
            key,
            min=entry.get("min"),
            max=entry.get("max"),
            note=str(entry["note"]) if entry.get("note") is not None else None,
            ratchet=entry.get("ratchet", True),
            lowered={str(k): str(v) for k, v in lowered.items()} if lowered else None,
        )
    return out


def load_thresholds(path: Path | str) -> dict[str, Threshold]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise EvalError(f"{path}: no such thresholds file") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EvalError(f"{path}: cannot read the thresholds: {e}") from e
    return parse_thresholds(data, str(path))


def check_gate(metrics: dict[str, Any], thresholds: dict[str, Threshold]) -> list[GateFailure]:
    """The thresholds the run's metrics miss; a metric that is null or absent misses every threshold."""
    values = flatten(metrics)
    failures = []
    for key, t in thresholds.items():
        v = values.get(key)
        if v is None or (t.min is not None and v < t.min) or (t.max is not None and v > t.max):
            failures.append(GateFailure(key, v, t))
    return failures


def _floor(v: float) -> float:
    return math.floor(round(v * 100, 6)) / 100


def _ceil(v: float) -> float:
    return math.ceil(round(v * 100, 6)) / 100


def ratchet(metrics: dict[str, Any], thresholds: dict[str, Threshold]) -> dict[str, Threshold]:
    """Thresholds tightened to what the run reached (2 decimals, rounded loosely); never loosened."""
    values = flatten(metrics)
    out = {}
    for key, t in thresholds.items():
        v = values.get(key)
        if t.ratchet and v is not None:
            lo = max(t.min, _floor(v)) if t.min is not None else None
            hi = min(t.max, _ceil(v)) if t.max is not None else None
            t = replace(t, min=lo, max=hi)
        out[key] = t
    return out


def lower(
    metrics: dict[str, Any], thresholds: dict[str, Threshold], keys: Sequence[str], *, reason: str, date: str
) -> dict[str, Threshold]:
    """`keys` loosened to what the run reached, each recording what it was and `reason`; EvalError when a key
    is not in the file, the run has no value for it, or the run meets it already (nothing to lower)."""
    if not reason.strip():
        raise EvalError('lowering a threshold needs --reason "why", stored next to the threshold')
    values = flatten(metrics)
    out = dict(thresholds)
    for key in keys:
        t = thresholds.get(key)
        if t is None:
            raise EvalError(f"'{key}' has no threshold to lower; the file has {', '.join(thresholds)}")
        v = values.get(key)
        if v is None:
            raise EvalError(f"'{key}' is null in the run: no case is labelled for it, so there is nothing to lower to")
        if not check_gate(metrics, {key: t}):
            raise EvalError(f"'{key}' = {v:g} meets {t.describe()} already; only a missed threshold is lowered")
        lo = min(t.min, _floor(v)) if t.min is not None else None
        hi = max(t.max, _ceil(v)) if t.max is not None else None
        out[key] = replace(t, min=lo, max=hi, lowered={"from": t.describe(), "reason": reason.strip(), "date": date})
    return out


def dump_thresholds(thresholds: dict[str, Threshold]) -> str:
    return json.dumps({k: t.to_dict() for k, t in thresholds.items()}, ensure_ascii=False, indent=1) + "\n"
