"""Webhook → private note on the demo KB with the real model: 50 customer messages (dev-set conversations, one
per Chatwoot conversation), each timed from the webhook's delivery to the note's POST arriving at the fake
Chatwoot (and to the webhook's 200). Writes out/chatwoot-latency.json; the issue's bound is p95 ≤ 1 s."""

from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from assistant.service.store import FeedbackStore
from assistant.settings import AssistantSettings, ChatwootSettings
from indexer.settings import IndexerSettings
from tests.assistant.service.test_chatwoot import TOKEN, WEBHOOK, _free_port, wait_for
from tests.fakes.chatwoot import FakeChatwoot

pytestmark = [pytest.mark.model, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "out" / "chatwoot-latency.json"
SECRET = "latency-webhook-secret-0123"
N = 50


def _cases() -> list[list[dict[str, str]]]:
    lines = (ROOT / "evals" / "sets" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["conversation"] for line in lines[:N]]


def test_a_signed_webhook_yields_a_note_within_a_second(tmp_path: Path) -> None:
    import uvicorn

    from ui.serve_cli import build_app

    model = IndexerSettings().resolved_model_dir()
    if not (model / "modules.json").is_file() and not (model / "config.json").is_file():
        pytest.skip(f"no prepared model at {model}: run `kefu model prepare`")
    port = _free_port()
    store = FeedbackStore(f"sqlite:///{tmp_path / 'kefu.db'}")
    store.migrate()
    with FakeChatwoot(token=TOKEN, secret=SECRET, webhook_url=f"http://127.0.0.1:{port}{WEBHOOK}") as fake:
        settings = AssistantSettings(
            rate_limit_per_minute=0,
            chatwoot=ChatwootSettings(url=fake.url, api_token=SecretStr(TOKEN), webhook_secret=SecretStr(SECRET)),
        )
        app = build_app(None, tmp_path / "index", settings=settings, store=store, with_editor=False)  # the demo KB
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_for(lambda: server.started, timeout=120)
        try:
            fake.customer_says(1, "你好")  # warm-up, not timed
            wait_for(lambda: fake.notes(1), timeout=30)
            latencies, acks = [], []
            for n, conversation in enumerate(_cases(), start=100):
                for turn in conversation[:-1]:
                    say = fake.customer_says if turn["role"] == "customer" else fake.agent_says
                    say(n, turn["text"], deliver=False)
                fake.customer_says(n, conversation[-1]["text"], deliver=False)
                started = time.monotonic()
                delivery = fake.deliver(fake.state.conversations[n][-1])
                assert delivery.status == 200
                acks.append(time.monotonic() - started)
                wait_for(lambda n=n: fake.notes(n), timeout=30)  # type: ignore[misc]
                posted = next(c for c in fake.calls("POST") if c.path.endswith(f"/conversations/{n}/messages"))
                latencies.append(posted.at - started)
        finally:
            server.should_exit = True
            thread.join(10)
    ms = sorted(x * 1000 for x in latencies)
    ack = sorted(x * 1000 for x in acks)
    figures = {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
        "max_ms": round(ms[-1], 1),
        "ack_p50_ms": round(statistics.median(ack), 1),  # the webhook's 200, before any work
        "ack_p95_ms": round(ack[int(0.95 * (len(ack) - 1))], 1),
        # Notes only: a handoff also POSTs the ticket's labels (and may assign a team).
        "notes": sum(1 for c in fake.calls("POST") if c.status == 200 and c.path.endswith("/messages")),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    assert figures["notes"] == N + 1  # one note per message, the warm-up's included
    assert figures["p95_ms"] <= 1000, figures
