"""The CI gate: thresholds kept in the repo (`evals/thresholds.json`) that a run's metrics must meet.

```json
{"retrieval.recall@5": {"min": 0.8},
 "reply.must_not_include_violation_rate": {"max": 0.0},
 "latency_ms.p95": {"max": 2000, "ratchet": false, "note": "2-core CI machine"}}
```
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.errors import EvalError
from evals.metrics import flatten, metric_keys

ENTRY_KEYS = ("min", "max", "note", "ratchet")


@dataclass(frozen=True)
class Threshold:
    key: str
    min: float | None = None
    max: float | None = None
    note: str | None = None
    ratchet: bool = True  # `kefu eval ratchet` may tighten it to what a run reached

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
    known = metric_keys()
    out = {}
    for key, entry in data.items():
        if key not in known and not key.startswith("per_intent."):
            raise EvalError(f"{source}: '{key}' is not a metric; use one of {', '.join(sorted(known))}")
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
        out[key] = Threshold(
            key,
            min=entry.get("min"),
            max=entry.get("max"),
            note=str(entry["note"]) if entry.get("note") is not None else None,
            ratchet=entry.get("ratchet", True),
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


def ratchet(metrics: dict[str, Any], thresholds: dict[str, Threshold]) -> dict[str, Threshold]:
    """Thresholds tightened to what the run reached (2 decimals, rounded loosely); never loosened."""
    values = flatten(metrics)
    out = {}
    for key, t in thresholds.items():
        v = values.get(key)
        if t.ratchet and v is not None:
            lo = max(t.min, math.floor(round(v * 100, 6)) / 100) if t.min is not None else None
            hi = min(t.max, math.ceil(round(v * 100, 6)) / 100) if t.max is not None else None
            t = Threshold(key, min=lo, max=hi, note=t.note, ratchet=t.ratchet)
        out[key] = t
    return out


def dump_thresholds(thresholds: dict[str, Threshold]) -> str:
    return json.dumps({k: t.to_dict() for k, t in thresholds.items()}, ensure_ascii=False, indent=1) + "\n"
