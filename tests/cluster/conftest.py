"""A real local cluster for the `cluster` tests: `scripts/cluster.sh` starting two `kefu serve` replicas on a tiny
shared KB (fake embedder), a fresh PostgreSQL schema, the test Redis, and nginx rendered from deploy/."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from assistant.service.store import FeedbackStore
from tests.conftest import write_kb

ROOT = Path(__file__).resolve().parents[2]
LIMIT_PER_MINUTE = 40


def _free_ports(n: int) -> int:
    """A base port with the n ports after it free (nginx on the base, replicas after it)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + n > 65535:
            continue
        try:
            for p in range(base, base + n + 1):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", p))
        except OSError:
            continue
        return base
    raise RuntimeError("no run of free ports on loopback")


@dataclass
class Cluster:
    """The running cluster: nginx's URL, the replicas' URLs, the keys, and how to stop or restart parts."""

    dir: Path
    kb_dir: Path
    url: str
    replicas: list[str]
    agent_keys: list[str]
    editor_key: str
    database_url: str
    env: dict[str, str]
    _next_key: int = field(default=0)

    def keys(self, n: int) -> list[str]:
        """`n` agent keys no other test has used (each key has its own rate limit)."""
        taken = self.agent_keys[self._next_key : self._next_key + n]
        assert len(taken) == n, "the cluster fixture has too few agent keys; raise N_AGENT_KEYS"
        self._next_key += n
        return taken

    def pid(self, replica: str) -> int:
        port = replica.rsplit(":", 1)[1]
        return int((self.dir / f"replica-{port}.pid").read_text())

    def kill(self, replica: str, sig: signal.Signals) -> None:
        os.kill(self.pid(replica), sig)

    def wait_gone(self, replica: str, timeout: float = 30) -> None:
        pid = self.pid(replica)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError(f"replica {replica} (pid {pid}) did not exit")

    def script(self, *args: str) -> None:
        """Run scripts/cluster.sh (`start` brings back a replica that was stopped)."""
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "cluster.sh"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        logs = "\n".join(p.read_text()[-3000:] for p in sorted(self.dir.glob("*.log")))
        assert done.returncode == 0, f"cluster.sh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}\n{logs}"

    def store(self) -> FeedbackStore:
        return FeedbackStore(self.database_url)


N_AGENT_KEYS = 60


def _need(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        pytest.skip(
            f"{var} is not set; `make services` starts PostgreSQL, Redis and nginx and writes .kefu/services.env"
        )
    return value


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    postgres, redis, nginx = (_need(v) for v in ("KEFU_TEST_POSTGRES_URL", "KEFU_TEST_REDIS_URL", "KEFU_TEST_NGINX"))
    work = tmp_path_factory.mktemp("cluster")
    kb_dir = write_kb(work / "kb")
    schema = f"c_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database_url = (
        make_url(postgres)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    agent_keys = [f"agent-{secrets.token_hex(12)}" for _ in range(N_AGENT_KEYS)]
    editor_key = f"editor-{secrets.token_hex(12)}"
    keys = {k: "agent" for k in agent_keys} | {editor_key: "editor"}
    base = _free_ports(2)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KEFU_BIN": str(Path(sys.executable).with_name("kefu")),
        "KEFU_CLUSTER_DIR": str(work / "run"),
        "KEFU_CLUSTER_PORT": str(base),
        "KEFU_CLUSTER_REPLICAS": "2",
        "KEFU_CLUSTER_KB": str(kb_dir),
        "KEFU_CLUSTER_SERVICES": "0",
        "KEFU_NGINX": nginx,
        "KEFU_DATABASE_URL": database_url,
        "KEFU_REDIS_URL": redis,
        "KEFU_HOME": str(work / "home"),
        "KEFU_EMBEDDING_MODEL": "hashing",
        "KEFU_API_KEYS": json.dumps(keys),
        "KEFU_RATE_LIMIT_PER_MINUTE": str(LIMIT_PER_MINUTE),
        "KEFU_DRAIN_TIMEOUT_S": "5",
    }
    c = Cluster(
        dir=work / "run",
        kb_dir=work / "run" / "kb",
        url=f"http://127.0.0.1:{base}",
        replicas=[f"http://127.0.0.1:{base + 1}", f"http://127.0.0.1:{base + 2}"],
        agent_keys=agent_keys,
        editor_key=editor_key,
        database_url=database_url,
        env=env,
    )
    try:
        c.script("start")
        yield c
    finally:
        c.script("stop")
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready after {timeout} s")
