"""Open HTML files in headless Chromium and report what a person's browser would complain about.

For tests of ``raytuner report``: each page is loaded over the DevTools protocol (Chromium
on 127.0.0.1, aiohttp's websocket client, which Ray already depends on), console errors,
uncaught exceptions, error log entries and every network request are collected, and a
screenshot is taken. Chromium is Debian's ``chromium`` package: :func:`find_chromium`
installs it with apt-get where it may (root, or passwordless sudo) and otherwise raises
:class:`BrowserUnavailable` with the reason (tests skip on it).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome")
INSTALL_TIMEOUT_S = 600


class BrowserUnavailable(Exception):
    """No Chromium here, and none could be installed (the message says why)."""


@dataclass(frozen=True)
class PageCheck:
    """What loading one page gave."""

    url: str
    errors: tuple[str, ...]  # console.error/assert, uncaught exceptions, error log entries
    requests: tuple[str, ...]  # every URL the page asked for beyond file: and data:
    plots: int  # rendered Plotly figures (.js-plotly-plot holding an svg)
    screenshot: Path


def find_chromium(install: bool = True) -> str:
    """The Chromium executable; installs Debian's package first where that is allowed."""
    found = _which()
    if found or not install:
        if found:
            return found
        raise BrowserUnavailable("no chromium on PATH")
    if shutil.which("apt-get") is None:
        raise BrowserUnavailable("no chromium on PATH and no apt-get to install it")
    if os.geteuid() == 0:
        command = ["apt-get", "install", "-y", "-q", "chromium"]
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        command = ["sudo", "-n", "apt-get", "install", "-y", "-q", "chromium"]
    else:
        raise BrowserUnavailable("no chromium on PATH, and installing Debian's package needs root "
                                 "or passwordless sudo (apt-get install chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        raise BrowserUnavailable(f"`{' '.join(command)}` took over {INSTALL_TIMEOUT_S} s") from None
    found = _which()
    if found is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BrowserUnavailable(f"`{' '.join(command)}` failed (exit {done.returncode}): {tail[0]}")
    return found


def _which() -> str | None:
    return next((path for path in map(shutil.which, NAMES) if path), None)


def check_pages(paths: list[Path], screenshots: Path, chromium: str | None = None,
                timeout_s: float = 60.0, width: int = 1280, height: int = 1600,
                tabs: int | None = None) -> list[PageCheck]:
    """Load each file in one headless Chromium and return what each page did, in the order
    given (``timeout_s``: per page). Pages load in up to ``tabs`` windows at once (default: one
    per core, at most 4), each in its own renderer: a report's time is parsing and running its
    inlined plotly.js, one core's work per page. Screenshots are ``<stem>.png`` (prefixed with
    the page's index where stems repeat). The browser (its whole process group) is stopped
    before returning."""
    chromium = chromium or find_chromium()
    screenshots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rt-chromium-") as profile:
        process = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--disable-sync",
             f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            port = _devtools_port(Path(profile), process, timeout_s)
            tabs = tabs or min(4, os.cpu_count() or 1)
            return asyncio.run(asyncio.wait_for(_visit(port, paths, screenshots, tabs), timeout_s * max(1, len(paths))))
        finally:
            _stop(process)


def _devtools_port(profile: Path, process: subprocess.Popen[bytes], timeout_s: float) -> int:
    """Chromium writes the port it chose into DevToolsActivePort."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserUnavailable(f"chromium exited at start (status {process.returncode})")
        if marker.exists() and (lines := marker.read_text().splitlines()):
            return int(lines[0])
        time.sleep(0.05)
    raise BrowserUnavailable(f"chromium opened no DevTools port within {timeout_s} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """The browser we started and its children (its own process group) only."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


async def _visit(port: int, paths: list[Path], screenshots: Path, tabs: int) -> list[PageCheck]:
    import aiohttp

    free = asyncio.Semaphore(max(1, tabs))
    stems = [path.stem for path in paths]
    names = [f"{stem}.png" if stems.count(stem) == 1 else f"{i:02d}-{stem}.png" for i, stem in enumerate(stems)]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/version") as response:
            browser_url = (await response.json())["webSocketDebuggerUrl"]
        async with http.ws_connect(browser_url, max_msg_size=0) as browser_ws:
            browser = _Cdp(browser_ws)
            opening = asyncio.Lock()  # one command at a time on the browser's socket

            async def in_a_window(index: int, path: Path) -> PageCheck:
                async with free:
                    async with opening:  # a window each: pages in background tabs never finished loading here
                        target = (await browser.call("Target.createTarget", url="about:blank", newWindow=True))
                    page_url = f"ws://127.0.0.1:{port}/devtools/page/{target['targetId']}"
                    try:
                        async with http.ws_connect(page_url, max_msg_size=0) as ws:
                            cdp = _Cdp(ws)
                            for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
                                await cdp.call(method)
                            return await _check(cdp, path, screenshots / names[index])
                    finally:
                        async with opening:
                            await browser.call("Target.closeTarget", targetId=target["targetId"])

            return list(await asyncio.gather(*(in_a_window(i, path) for i, path in enumerate(paths))))


async def _check(cdp: "_Cdp", path: Path, target: Path) -> PageCheck:
    url = path.resolve().as_uri()
    cdp.events.clear()
    await cdp.call("Page.navigate", url=url)
    await cdp.wait_for("Page.loadEventFired")
    plots = await _rendered_plots(cdp)
    shot = await _screenshot(cdp)
    target.write_bytes(base64.b64decode(shot["data"]))
    errors, requests = [], []
    for method, params in cdp.events:
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            asked = params.get("request", {}).get("url", "")
            if not asked.startswith(("file:", "data:", "blob:", "about:")):
                requests.append(asked)
    return PageCheck(url, tuple(errors), tuple(requests), plots, target)


async def _screenshot(cdp: "_Cdp", max_height: int = 16000, scale: float = 0.5) -> dict[str, Any]:
    """The whole page (up to ``max_height`` CSS pixels), at ``scale``."""
    size = (await cdp.call("Page.getLayoutMetrics"))["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": scale}
    return await cdp.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)


async def _rendered_plots(cdp: "_Cdp", settle_s: float = 5.0) -> int:
    """Wait (a little) until every Plotly div holds its svg; the number rendered."""
    script = ("[document.querySelectorAll('.plotly-graph-div').length,"
              " document.querySelectorAll('.js-plotly-plot .main-svg').length > 0 ?"
              " document.querySelectorAll('.js-plotly-plot').length : 0]")
    deadline = time.monotonic() + settle_s
    while True:
        value = (await cdp.call("Runtime.evaluate", expression=script, returnByValue=True))["result"]["value"]
        divs, rendered = value
        if rendered >= divs or time.monotonic() > deadline:
            return int(rendered)
        await asyncio.sleep(0.1)


class _Cdp:
    """Commands and events over one DevTools websocket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        await self.ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = await self._receive()
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def wait_for(self, method: str) -> None:
        while not any(m == method for m, _ in self.events):
            await self._receive()

    async def _receive(self) -> dict[str, Any]:
        message = json.loads((await self.ws.receive()).data)
        if "method" in message:
            self.events.append((message["method"], message.get("params", {})))
        return message
