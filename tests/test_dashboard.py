"""The election dashboard in a real browser during a real demo.

``zkpot demo --rounds 2`` runs on the dev chain with three workers, one of them Byzantine
(its proofs claim a score it did not prove, so the chain rejects them), and serves the
dashboard. Headless Chromium opens the page once and keeps it open. The test reads the
election from the chain with substrate-interface and checks that the page shows it:
- during round 1, after its election: the round, the proven scores (one dot per accepted
  proof in its worker's colour, the minimum line), the leader, the rejected proof with the
  verifier's reason, and the proof counts, in the screenshot's pixels and in the page;
- later, without a reload: the page has moved on to round 2 and shows its election too,
  and the global model of round 1, downloaded and checked against the chain's commitment
  by the dashboard, has its score on the fixed test samples.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from zkpot.chain.client import ChainClient

from tests.browser import Browser, chromium_binary, count_colour, hex_rgb
from tests.conftest import REPO, ZKPOT, free_port, require_built_chain

pytestmark = [pytest.mark.chain, pytest.mark.prover]

#: The page's colours (dashboard.js): the minimum line, accepted and rejected bars.
MIN_LINE = hex_rgb("#dc2626")
ACCEPTED = hex_rgb("#16a34a")
TASK = 0
DEMO_TIMEOUT = 1500


def _wait_line(log: Path, prefix: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        assert proc.poll() is None, f"the demo exited: {log.read_text()[-3000:]}"
        time.sleep(0.5)
    raise AssertionError(f"no {prefix!r} line from the demo: {log.read_text()[-3000:]}")


def _row(round_: int) -> str:
    """JavaScript: the text of each cell of the elections row of ``round_``, or null."""
    return (f"(() => {{ const tr = document.querySelector('#elections-{TASK} tr[data-round=\"{round_}\"]');"
            " return tr ? [...tr.cells].map((c) => c.textContent) : null; })()")


async def _check_election(b: Browser, c: ChainClient, index: int, shot: Path) -> None:
    """The page's election of round ``index`` against the chain's record, and the
    screenshot's pixels for it."""
    labels = await b.evaluate("JSON.stringify(labels)")
    labels = json.loads(labels)
    record = c.query("Zkpot", "Elections", [(TASK, index)])
    ranking = [(str(w), int(s)) for w, s in record["ranking"]]
    assert ranking, record
    cells = await b.wait_for(_row(index) + f" && ({_row(index)}[1] !== '–') && {_row(index)}", 60,
                             f"the election of round {index} on the page")
    _, leader, scores, rejected, authors, *_ = cells
    assert leader == labels[ranking[0][0]]
    for who, score in ranking:
        assert f"{labels[who]} {score}" in scores, (scores, ranking)
    expected_authors = sorted(labels[str(a)] for a in record["authors"])
    assert (sorted(a.strip() for a in authors.split(",")) if expected_authors else authors) == (expected_authors or "–")
    byzantine = next(w for w, n in labels.items() if n.endswith("-byz"))
    assert f"{labels[byzantine]}: InvalidProof: PairingFailed" in rejected, rejected

    image = await b.screenshot(shot)
    chart = await b.box(f"#scores-{TASK} svg")
    assert count_colour(image, chart, MIN_LINE) > 200, "no minimum line in the scores plot"
    colours = json.loads(await b.evaluate("JSON.stringify(colours)"))
    for who, _ in ranking:
        # One dot of about 110 pixels per accepted proof, in its worker's colour.
        assert count_colour(image, chart, hex_rgb(colours[who]), tolerance=10) >= 60, labels[who]
    bars = await b.box(f"#proofs-{TASK} svg")
    assert count_colour(image, bars, ACCEPTED, tolerance=10) > 300
    assert count_colour(image, bars, MIN_LINE, tolerance=10) > 100, "no rejected proof in the bars"
    dots = await b.evaluate(f"document.querySelectorAll('#scores-{TASK} .score-dot').length")
    assert dots >= len(ranking)


async def test_dashboard_follows_a_demo_in_a_browser(tmp_path: Path) -> None:
    require_built_chain()
    if chromium_binary() is None:
        pytest.fail("chromium is not installed: run scripts/setup.sh (it installs Debian's chromium)")
    log = tmp_path / "demo.log"
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*ZKPOT, "demo", "--rounds", "2", "--workers", "3", "--out", str(tmp_path / "demo"),
             "--dashboard-port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
    try:
        url = _wait_line(log, "dashboard: ", proc, 600)
        assert url == f"http://127.0.0.1:{port}/"
        c = ChainClient(_wait_line(log, "dev chain: ", proc, 10))
        async with Browser() as b:
            await b.goto(url)
            await b.wait_for(f"!!document.querySelector('#round-{TASK}')", 120, "the round on the page")
            # Marks this page load: a reload would forget it.
            await b.evaluate("window.zkpotLoad = 'first'")
            title = await b.evaluate(f"document.querySelector('#round-{TASK}').textContent")
            assert title.startswith("Round 1 · "), title

            # Round 1's election, once the chain has held it.
            await b.wait_for(f"{_row(1)} && {_row(1)}[1] !== '–'", DEMO_TIMEOUT / 2, "round 1's election")
            await _check_election(b, c, 1, tmp_path / "round1.png")

            # The round moves on; the open page follows it without a reload.
            block = int(await b.evaluate("document.body.dataset.block"))
            await b.wait_for(f"document.querySelector('#round-{TASK}').textContent.startsWith('Round 2 · ')",
                             DEMO_TIMEOUT / 2, "the page to show round 2")
            await b.wait_for(f"{_row(2)} && {_row(2)}[1] !== '–'", DEMO_TIMEOUT / 2, "round 2's election")
            assert await b.evaluate("window.zkpotLoad") == "first", "the page was reloaded"
            assert int(await b.evaluate("document.body.dataset.block")) > block
            await _check_election(b, c, 2, tmp_path / "round2.png")

            # Round 1's global model, checked against A and scored on the fixed samples.
            score = await b.wait_for(f"{_row(1)} && /^\\d+\\/32$/.test({_row(1)}[7]) && {_row(1)}[7]",
                                     120, "round 1's global model score")
            correct = int(score.split("/")[0])
            assert 0 < correct <= 32
            assert await b.evaluate(f"document.querySelectorAll('#accuracy-{TASK} circle').length") >= 1
            assert not [m for m in b.console if m.startswith("exception")], b.console
        assert proc.wait(DEMO_TIMEOUT) == 0, log.read_text()[-3000:]
        c.close()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
