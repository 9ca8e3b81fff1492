"""The worker's HTTP server (aiohttp): the global model, secure aggregation, ``/health`` and
``/metrics``.

- ``GET /models/global/{task}/{round}``: the global model ``s`` of a round (the
  ``aggregation.GlobalModel`` format) that this worker computed, as publisher or as a
  fallback candidate; public, since its commitment is on chain and every downloader
  checks it.
- ``POST /secagg/{task}/{round}``: this worker's side of the round's secure aggregation
  (``secagg_http.ParticipantHost``), only for requests signed by one of the round's
  aggregator candidates. It answers with masked or encrypted protocol messages only: no
  route serves a contribution in the clear.
- ``GET /health``: liveness and where the worker is.
- ``GET /metrics``: Prometheus text format.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from zkpot.worker.metrics import WorkerMetrics
from zkpot.worker.secagg_http import (
    MAX_REQUEST_BYTES,
    HostRefusal,
    ParticipantHost,
    verified_requester,
)

log = logging.getLogger(__name__)


class ModelServer:
    """Serves the files the worker registers, under the rules above."""

    def __init__(
        self,
        metrics: WorkerMetrics,
        health: Callable[[], dict],
        secagg: ParticipantHost | None = None,
    ) -> None:
        self._metrics = metrics
        self._health = health
        self._secagg = secagg
        self._global: dict[tuple[int, int], Path] = {}
        self._runner: web.AppRunner | None = None

    def serve_global(self, task: int, round: int, path: Path) -> None:
        """Publishes a global model file."""
        self._global[(task, round)] = path

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_get("/health", self._get_health)
        app.router.add_get("/metrics", self._get_metrics)
        app.router.add_get("/models/global/{task:\\d{1,9}}/{round:\\d{1,9}}", self._get_global)
        app.router.add_post("/secagg/{task:\\d{1,9}}/{round:\\d{1,9}}", self._post_secagg)
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

    async def _post_secagg(self, request: web.Request) -> web.Response:
        if self._secagg is None:
            raise web.HTTPNotFound(text="this server takes no part in secure aggregation")
        body = await request.read()
        requester = verified_requester(request.headers, request.path, body)
        if requester is None:
            raise web.HTTPUnauthorized(text="sign the request as an aggregator candidate of the round")
        task, round = self._key(request)
        try:
            out = await self._secagg.handle(task, round, requester, body)
        except HostRefusal as e:
            self._metrics.errors.labels("secagg_refused").inc()
            raise _refusal(e) from None
        return web.Response(body=out, content_type="application/octet-stream")


def _refusal(e: HostRefusal) -> web.HTTPException:
    classes: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest, 403: web.HTTPForbidden, 404: web.HTTPNotFound,
        409: web.HTTPConflict, 410: web.HTTPGone, 503: web.HTTPServiceUnavailable,
    }
    return classes.get(e.status, web.HTTPBadRequest)(text=e.reason)
