"""``zkpot dashboard``: the election dashboard, served by aiohttp from this package.

- ``GET /``: the page (HTML, CSS and JavaScript in ``static/``; no CDN, no build step:
  the plots are SVG drawn by the page itself).
- ``GET /api/state``: the feed's current state as JSON (what the page draws).
- ``GET /api/stream``: the same state as server-sent events, one per new block, so the
  page updates itself; a browser reconnects on its own after a dropped stream.

It only reads the chain and public global models; it holds no keys and serves no
contribution. It listens on loopback unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from zkpot.dashboard.feed import Feed

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
#: Seconds between keep-alive comments on an idle event stream.
KEEPALIVE = 15.0
FEED_KEY = web.AppKey("feed", Feed)


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _state(request: web.Request) -> web.Response:
    feed = request.app[FEED_KEY]
    return web.json_response(feed.state, headers={"Cache-Control": "no-store"})


async def _stream(request: web.Request) -> web.StreamResponse:
    feed = request.app[FEED_KEY]
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-store"})
    await resp.prepare(request)
    version = -1
    try:
        while True:
            if feed.version != version:
                version = feed.version
                await resp.write(f"event: state\ndata: {json.dumps(feed.state)}\n\n".encode())
            elif await feed.changed(version, KEEPALIVE) == version:
                await resp.write(b": keep-alive\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return resp


def make_app(feed: Feed) -> web.Application:
    """The dashboard's aiohttp application over ``feed``."""
    app = web.Application()
    app[FEED_KEY] = feed
    app.router.add_get("/", _index)
    app.router.add_get("/api/state", _state)
    app.router.add_get("/api/stream", _stream)
    app.router.add_static("/static/", STATIC, append_version=False)
    return app


@contextlib.asynccontextmanager
async def serving(feed: Feed, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Runs the feed and serves the page; yields the page's URL."""
    stop = asyncio.Event()
    follower = asyncio.create_task(feed.run(stop))
    # No access log: the page asks every few seconds, and the demo prints to the same terminal.
    runner = web.AppRunner(make_app(feed), shutdown_timeout=1.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
        bound = site._server.sockets[0].getsockname()[1] if site._server else port  # type: ignore[union-attr]
        yield f"http://{host}:{bound}/"
    finally:
        stop.set()
        await runner.cleanup()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
