"""Headless Chromium (Debian's ``chromium``) driven over the Chrome DevTools Protocol, for
the tests of web pages: open a page, evaluate JavaScript in it, take screenshots, and
read the pixels of an element's box. Only aiohttp (a project dependency) speaks the
protocol; no driver binary is needed."""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from tests.conftest import free_port


def chromium_binary() -> str | None:
    """Debian's chromium (installed by scripts/setup.sh), if present."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium with one page, at a fixed window size."""

    def __init__(self, width: int = 1400, height: int = 1500) -> None:
        self.width, self.height = width, height
        self.proc: subprocess.Popen[bytes] | None = None
        self._profile = tempfile.TemporaryDirectory(prefix="zkpot-chromium-")
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self.console: list[str] = []

    async def __aenter__(self) -> Browser:
        binary = chromium_binary()
        assert binary, "chromium is not installed: scripts/setup.sh installs Debian's chromium"
        port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
             f"--remote-debugging-port={port}", f"--user-data-dir={self._profile.name}",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self._http = aiohttp.ClientSession()
        deadline = time.monotonic() + 60
        targets: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            try:
                async with self._http.get(f"http://127.0.0.1:{port}/json/list") as r:
                    targets = [t for t in await r.json() if t.get("type") == "page"]
                if targets:
                    break
            except aiohttp.ClientError:
                pass
            assert self.proc.poll() is None, "chromium exited at start"
            await asyncio.sleep(0.3)
        assert targets, "chromium's DevTools endpoint did not come up"
        self._ws = await self._http.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=64 << 20)
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        await self.send("Emulation.setDeviceMetricsOverride", {
            "width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._profile.cleanup()

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One protocol command; its result (events that arrive meanwhile: console kept)."""
        assert self._ws is not None
        ident = next(self._ids)
        await self._ws.send_str(json.dumps({"id": ident, "method": method, "params": params or {}}))
        while True:
            msg = json.loads((await asyncio.wait_for(self._ws.receive(), 60)).data)
            if msg.get("method") == "Runtime.consoleAPICalled":
                self.console.append(" ".join(str(a.get("value", a.get("description")))
                                             for a in msg["params"]["args"]))
            elif msg.get("method") == "Runtime.exceptionThrown":
                self.console.append("exception: " + json.dumps(msg["params"]["exceptionDetails"])[:500])
            if msg.get("id") == ident:
                assert "error" not in msg, f"{method}: {msg['error']}"
                return msg["result"]

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        r = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        assert "exceptionDetails" not in r, r["exceptionDetails"]
        return r["result"].get("value")

    async def wait_for(self, expression: str, timeout: float, what: str) -> Any:
        """Polls ``expression`` until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}; console: {self.console[-5:]}")

    async def screenshot(self, path: Path) -> Image.Image:
        """A PNG of the whole page, saved to ``path``."""
        size = await self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        r = await self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}})
        data = base64.b64decode(r["data"])
        path.write_bytes(data)
        return Image.open(io.BytesIO(data)).convert("RGB")

    async def box(self, selector: str) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of an element in page coordinates."""
        b = await self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return [r.left + scrollX, r.top + scrollY, r.right + scrollX, r.bottom + scrollY]; })()")
        return int(b[0]), int(b[1]), int(b[2]), int(b[3])


def count_colour(image: Image.Image, box: tuple[int, int, int, int], rgb: tuple[int, int, int],
                 tolerance: int = 24) -> int:
    """Pixels of ``image`` inside ``box`` within ``tolerance`` of ``rgb`` on every channel."""
    region = image.crop(box)
    return sum(n for n, c in region.getcolors(region.width * region.height)
               if all(abs(a - b) <= tolerance for a, b in zip(c, rgb, strict=True)))


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` as a tuple."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
