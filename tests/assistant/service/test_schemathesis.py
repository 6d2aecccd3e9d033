"""Property-based tests of the whole API from its OpenAPI schema: no input makes the server fail (5xx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from assistant.service.app import create_app
from assistant.service.holder import AssistantHolder, assistant_factory
from assistant.service.store import FeedbackStore
from assistant.settings import AssistantSettings, ChatwootSettings
from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from kb import load_kb
from tests.conftest import FOLLOWUP_SCRIPT, write_kb

pytestmark = pytest.mark.slow

OPERATIONS = [("POST", "/v1/suggest"), ("POST", "/v1/feedback"), ("GET", "/v1/search"), ("POST", "/v1/check"),
              ("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/v1/feedback/sent"),
              ("POST", "/v1/integrations/chatwoot/webhook"), ("POST", "/v1/followup")]  # fmt: skip


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The schema of the app on the tiny KB; schemathesis calls the app in process (ASGI)."""
    root: Path = tmp_path_factory.mktemp("schemathesis")
    kb_dir = write_kb(write_kb(root / "kb"), FOLLOWUP_SCRIPT)  # with the script /v1/followup drafts from
    build_index(load_kb(kb_dir), HashingEmbedder(), root / "index")
    holder = AssistantHolder(assistant_factory(kb_dir, root / "index", HashingEmbedder()), index_dir=root / "index")
    store = FeedbackStore(f"sqlite:///{root / 'kefu.db'}")
    store.migrate()
    chatwoot = ChatwootSettings(webhook_secret=SecretStr("schemathesis-secret"))  # unsigned requests: 401
    app = create_app(holder, store, AssistantSettings(api_keys={}, rate_limit_per_minute=0, chatwoot=chatwoot))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_is_covered(api_schema: Any) -> None:
    assert {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()} == set(OPERATIONS)


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [(m, p, mode) for m, p in OPERATIONS for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
     if p not in ("/healthz", "/readyz", "/v1/integrations/chatwoot/webhook") or mode is GenerationMode.POSITIVE],
    # /healthz and /readyz take no input to get wrong; the webhook's body is raw bytes, checked by its signature
)  # fmt: skip
def test_no_request_makes_the_server_fail(api_schema: Any, method: str, path: str, mode: GenerationMode) -> None:
    operation = next(op.ok() for op in api_schema.get_all_operations()
                     if (op.ok().method.upper(), op.ok().path) == (method, path))  # fmt: skip

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        case.call_and_validate(checks=[not_a_server_error])

    call()
