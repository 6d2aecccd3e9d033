"""JSON log lines."""

from __future__ import annotations

import json
import logging
import sys

from assistant.service.logs import JsonFormatter


def test_an_access_record_is_one_json_line_with_its_fields() -> None:
    record = logging.LogRecord("kefu.access", logging.INFO, "", 0, "%s %s %d", ("GET", "/v1/search", 200), None)
    record.__dict__.update(request_id="req-1", method="GET", path="/v1/search", status=200, ms=3.2, pid=7)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    out = json.loads(line)
    assert out["message"] == "GET /v1/search 200" and out["logger"] == "kefu.access" and out["level"] == "info"
    assert {k: out[k] for k in ("request_id", "path", "status", "ms", "pid")} == {
        "request_id": "req-1",
        "path": "/v1/search",
        "status": 200,
        "ms": 3.2,
        "pid": 7,
    }


def test_an_error_keeps_its_traceback_inside_the_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("kefu.service", logging.ERROR, "", 0, "failed", (), sys.exc_info())
    out = json.loads(JsonFormatter().format(record))
    assert "RuntimeError: boom" in out["error"] and out["level"] == "error"
