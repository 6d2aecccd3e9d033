"""An ASGI app served by uvicorn on a free loopback port, in a thread of the test.

>>> with serving(create_app(holder, store, settings)) as url:
...     httpx.get(f"{url}/healthz")
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any, *, force_exit: bool = False, start_timeout_s: float = 30) -> Iterator[str]:
    """Serve `app` until the block ends; yields its URL once uvicorn has started.

    `force_exit` closes open connections at once (Gradio's event streams would hold a graceful exit).
    """
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.force_exit = force_exit
        server.should_exit = True
        thread.join(10)
