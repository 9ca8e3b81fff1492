"""The worker's HTTP server (aiohttp): model exchange, ``/health`` and ``/metrics``.

- ``GET /models/global/{task}/{round}``: the global model ``s`` of a round (the
  ``aggregation.GlobalModel`` format) that this worker computed, as publisher or as a
  fallback candidate; public, since its commitment is on chain and every downloader
  checks it.
- ``GET /models/contribution/{task}/{round}``: this worker's contribution to a round, only
  once its reveal is on chain, and only to a requester that proves (by an sr25519
  signature) to be one of the round's ranked contributors — the accounts that may
  aggregate it. Private models go to aggregators only.
- ``GET /health``: liveness and where the worker is.
- ``GET /metrics``: Prometheus text format.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from substrateinterface import Keypair

from zkpot.metrics import WorkerMetrics

log = logging.getLogger(__name__)

#: Signed requests older than this are refused (replay protection).
MAX_REQUEST_AGE = 300.0

#: Headers of a signed request.
H_ACCOUNT = "X-Zkpot-Account"
H_TIME = "X-Zkpot-Timestamp"
H_SIGNATURE = "X-Zkpot-Signature"


def request_message(path: str, timestamp: str) -> bytes:
    """What a requester signs: the path and the time, so a signature fits one request."""
    return f"zkpot-model-request:{path}:{timestamp}".encode()


def signed_headers(keypair: Keypair, path: str) -> dict[str, str]:
    """Headers that authenticate a model request by ``keypair``."""
    ts = str(int(time.time()))
    return {
        H_ACCOUNT: keypair.ss58_address,
        H_TIME: ts,
        H_SIGNATURE: "0x" + keypair.sign(request_message(path, ts)).hex(),
    }


def _verified_requester(request: web.Request) -> str | None:
    account = request.headers.get(H_ACCOUNT, "")
    ts = request.headers.get(H_TIME, "")
    sig = request.headers.get(H_SIGNATURE, "")
    try:
        if abs(time.time() - int(ts)) > MAX_REQUEST_AGE:
            return None
        ok = Keypair(ss58_address=account).verify(request_message(request.path, ts), sig)
    except (ValueError, TypeError):
        return None
    return account if ok else None


class ModelServer:
    """Serves the files the worker registers, under the rules above."""

    def __init__(
        self,
        metrics: WorkerMetrics,
        health: Callable[[], dict],
        allowed_requesters: Callable[[int, int], Awaitable[set[str]]],
    ) -> None:
        self._metrics = metrics
        self._health = health
        self._allowed = allowed_requesters
        self._global: dict[tuple[int, int], Path] = {}
        self._contributions: dict[tuple[int, int], Path] = {}
        self._runner: web.AppRunner | None = None

    def serve_global(self, task: int, round: int, path: Path) -> None:
        """Publishes a global model file."""
        self._global[(task, round)] = path

    def serve_contribution(self, task: int, round: int, path: Path) -> None:
        """Offers this worker's contribution to the round's aggregators (after its
        reveal)."""
        self._contributions[(task, round)] = path

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(client_max_size=1024)
        app.router.add_get("/health", self._get_health)
        app.router.add_get("/metrics", self._get_metrics)
        app.router.add_get("/models/global/{task:\\d{1,9}}/{round:\\d{1,9}}", self._get_global)
        app.router.add_get(
            "/models/contribution/{task:\\d{1,9}}/{round:\\d{1,9}}", self._get_contribution
        )
        return app

    async def start(self, host: str, port: int) -> None:
        """Listens on ``host:port``."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        """Stops listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _get_health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok", **self._health()})

    async def _get_metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=self._metrics.exposition(), content_type="text/plain")

    @staticmethod
    def _key(request: web.Request) -> tuple[int, int]:
        return int(request.match_info["task"]), int(request.match_info["round"])

    async def _get_global(self, request: web.Request) -> web.StreamResponse:
        path = self._global.get(self._key(request))
        if path is None or not path.is_file():
            raise web.HTTPNotFound(text="no global model for this round here")
        return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})

    async def _get_contribution(self, request: web.Request) -> web.StreamResponse:
        key = self._key(request)
        path = self._contributions.get(key)
        if path is None or not path.is_file():
            raise web.HTTPNotFound(text="no revealed contribution for this round here")
        requester = _verified_requester(request)
        if requester is None:
            raise web.HTTPUnauthorized(text="sign the request as an aggregator of the round")
        if requester not in await self._allowed(*key):
            log.info("refused model request from %s: not an aggregator of %s", requester, key)
            raise web.HTTPForbidden(text="only the round's aggregators get contributions")
        return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})
