"""Structured logs: one JSON object a line, and the access log's fields.

The access log (logger `kefu.access`, one record per HTTP request, written by the request middleware) names
the request by its id and path only: never the query string, a body, a header or a key, so no customer
text and no secret reaches it.

>>> configure_json_logging("info")    # `kefu serve --log-format json`
>>> # {"time": "...", "level": "info", "logger": "kefu.access", "message": "POST /v1/suggest 200",
>>> #  "request_id": "9f2c...", "method": "POST", "path": "/v1/suggest", "status": 200, "ms": 41.2, ...}
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

ACCESS = logging.getLogger("kefu.access")
ACCESS_FIELDS = ("request_id", "method", "path", "status", "ms", "client", "pid")


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time, level, logger, message, the access fields it has, the error."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ACCESS_FIELDS:
            if key in record.__dict__:
                out[key] = record.__dict__[key]
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_json_logging(level: str) -> None:
    """Every logger (uvicorn's included, which then must be run with `log_config=None`) as JSON on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
