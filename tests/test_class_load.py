"""Smoke test of benchmarks/class_load.py: one websocket session opens the app and moves p.

Bounded to about 30 s: 15 s for the server to be healthy, 15 s for the two reruns.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import class_load  # noqa: E402

pytestmark = pytest.mark.slow


def test_one_session_opens_the_app_and_moves_p():
    async def drive(port: int):
        session = await class_load.Session(port, "seed=11").connect()
        try:
            return await session.rerun(), await session.rerun(0.45), session.query
        finally:
            await session.ws.close()

    with class_load.StreamlitServer(class_load.APP, startup_timeout_s=15) as server:
        opened, moved, query = asyncio.run(asyncio.wait_for(drive(server.port), timeout=15))
    assert opened.exceptions == moved.exceptions == 0
    assert moved.verified and "p_hidden=0.45" in query.split("&")
    assert opened.bytes > 0 and moved.seconds > 0
