#!/usr/bin/env python3
"""Measures secure aggregation (zkpot.fl.secagg) with simulated participants in one process.

    .venv/bin/python scripts/bench_secagg.py --out docs/bench/secagg.json

For each configuration (participants n, neighbour degree, dropouts) it runs the five steps
(advertise keys, share keys, masked input, consistency, unmask) on vectors of 1210 field
elements (the digits MLP) and records, per participant: CPU time over all its steps, bytes
sent and received (the canonical encodings of its messages; the aggregator's broadcasts
counted once per recipient); the aggregator's CPU time (collecting, forwarding and the final
unmasking); and the message rounds. Every participant message is signed and verified with
Ed25519 (64-byte signatures, the size of the workers' sr25519 ones; the CPU times include
signing and verifying with Ed25519, not sr25519).

``http_sessions`` runs the same protocol as the workers do: every participant is a worker's
own HTTP server (``ModelServer`` with a ``ParticipantHost``, sr25519 account keys) on its
own port in this process, and one candidate drives the session with ``run_aggregation``
over real HTTP (signed requests). It records the wall time of the whole session, the
participants' protocol CPU time (each host's thread time in its protocol steps, sr25519
signing and verifying included; aiohttp's own work is not in it), the bytes each
participant received and sent (request and response bodies), and the driver's bytes and CPU
time. A benchmark, not a test: it records numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean
from typing import Any

from zkpot.fl import secagg as sa

LENGTH = 1210
#: (n, degree or None for the complete graph, dropouts after sharing keys)
CONFIGS = [
    (4, None, 0), (4, None, 1),
    (16, None, 0), (16, None, 3),
    (64, None, 0), (64, None, 12),
    (64, 16, 0), (64, 16, 12),
]
#: one-way message rounds: 5 uploads (keys, encrypted shares, masked input, consistency
#: signature, unmasking shares) and 4 downloads (roster, forwarded shares, survivor set,
#: unmasking request), i.e. 5 round trips.
ROUNDS = 9


def _machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(), "commit": commit}


class Meter:
    """CPU seconds and bytes per party."""

    def __init__(self) -> None:
        self.cpu: dict[int, float] = {}
        self.sent: dict[int, int] = {}
        self.recv: dict[int, int] = {}

    def call(self, who: int, fn: Any, *args: Any) -> Any:  # noqa: ANN401 - any step
        """Runs one step of ``who`` and charges its CPU time to it."""
        t0 = time.process_time()
        out = fn(*args)
        self.cpu[who] = self.cpu.get(who, 0.0) + time.process_time() - t0
        return out

    def send(self, who: int, msg: Any) -> None:  # noqa: ANN401 - any message
        """Counts an upload from ``who``."""
        self.sent[who] = self.sent.get(who, 0) + len(msg.encode())

    def recv_(self, who: int, msg: Any) -> None:  # noqa: ANN401 - any message
        """Counts a download to ``who``."""
        self.recv[who] = self.recv.get(who, 0) + len(msg.encode())




def bench(n: int, degree: int | None, drops: int, seed: int = 0) -> dict[str, Any]:
    """One session; ``drops`` participants vanish after sharing keys (their masks must be
    reconstructed, the costliest dropout)."""
    k = n - 1 if degree is None else degree
    t = max(2, math.ceil(2 * (k + 1) / 3))
    ids = tuple(range(1, n + 1))
    session = sa.Session(b"bench-digits-mlp", 1, ids, threshold=t, length=LENGTH, degree=degree)
    rnd = random.Random(seed)
    gone = set(rnd.sample(ids, drops))
    xs = {i: tuple(rnd.randrange(-(2**16), 2**16) % sa.P for _ in range(LENGTH)) for i in ids}
    m = Meter()
    agg_id = 0
    signers, verify = sa.ed25519_accounts(ids)
    parts = {i: m.call(i, sa.Participant, session, i, xs[i], signers[i], verify) for i in ids}
    agg = sa.Aggregator(session, verify)

    for i in ids:
        msg = m.call(i, parts[i].advertise_keys)
        m.send(i, msg)
        m.call(agg_id, agg.receive_keys, msg)
    for i in ids:
        roster = m.call(agg_id, agg.roster_for, i)
        m.recv_(i, roster)
        msg = m.call(i, parts[i].share_keys, roster)
        m.send(i, msg)
        m.call(agg_id, agg.receive_shares, msg)
    fwd = m.call(agg_id, agg.forward_shares)
    for i in ids:
        if i in gone:
            continue
        m.recv_(i, fwd[i])
        msg = m.call(i, parts[i].masked_input, fwd[i])
        m.send(i, msg)
        m.call(agg_id, agg.receive_masked, msg)
    req = m.call(agg_id, agg.consistency_request)
    for i in sorted(req.survivors):
        m.recv_(i, req)
        msg = m.call(i, parts[i].consistency, req)
        m.send(i, msg)
        m.call(agg_id, agg.receive_consistency, msg)
    unmask = m.call(agg_id, agg.unmask_request)
    for i in sorted(unmask.signatures):
        m.recv_(i, unmask)
        msg = m.call(i, parts[i].unmask, unmask)
        m.send(i, msg)
        m.call(agg_id, agg.receive_unmask, msg)
    before = m.cpu[agg_id]
    result = m.call(agg_id, agg.finish)
    finish_s = m.cpu[agg_id] - before
    want = tuple(sum(xs[i][j] for i in result.included) % sa.P for j in range(LENGTH))
    assert result.values == want, "the sum is wrong"

    survivors = [i for i in ids if i not in gone]
    return {
        "n": n, "graph": "complete" if degree is None or degree >= n - 1 else f"{degree}-regular",
        "threshold": t, "dropped_after_share_keys": drops, "length": LENGTH,
        "participant_cpu_s_mean": round(mean(m.cpu[i] for i in survivors), 4),
        "participant_cpu_s_max": round(max(m.cpu[i] for i in survivors), 4),
        "participant_sent_bytes_mean": round(mean(m.sent[i] for i in survivors)),
        "participant_recv_bytes_mean": round(mean(m.recv[i] for i in survivors)),
        "plain_upload_bytes": 32 * LENGTH,
        "aggregator_cpu_s": round(m.cpu[agg_id], 4),
        "aggregator_unmask_cpu_s": round(finish_s, 4),
        "message_rounds": ROUNDS,
        "sum_exact": True,
    }


HTTP_CONFIGS = [(4, 0), (4, 1), (16, 0), (16, 3), (64, 0), (64, 12)]


async def bench_http(n: int, drops: int, seed: int = 0) -> dict[str, Any]:
    """One session over the workers' HTTP servers; ``drops`` participants leave after the
    key agreement (``dropout_after_key_agreement``)."""
    import aiohttp
    from substrateinterface import Keypair
    from zkpot.worker.metrics import WorkerMetrics
    from zkpot.worker.secagg_http import ParticipantHost, round_session, run_aggregation
    from zkpot.worker.server import ModelServer

    rnd = random.Random(seed)
    keys = [Keypair.create_from_uri(f"//bench-{n}-{i}") for i in range(n)]
    driver = Keypair.create_from_uri("//bench-driver")
    rs = round_session(1, 1, bytes(64), [(k.ss58_address, 1) for k in keys], [driver.ss58_address], 67, LENGTH)
    gone = set(rnd.sample(rs.session.participants, drops))
    xs = {i: [rnd.randrange(-(2**16), 2**16) % sa.P for _ in range(LENGTH)] for i in rs.session.participants}
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"zkpot-bench-secagg-{os.getpid()}-{n}-{drops}"
    servers, urls, hosts = [], {}, {}
    for i in rs.session.participants:
        async def spec(task: int, round: int, i: int = i) -> Any:  # noqa: ANN401
            return rs, xs[i]
        host = ParticipantHost(keys[i - 1], tmp / str(i), spec, vanish_after_key_agreement=i in gone)
        server = ModelServer(WorkerMetrics(), dict, host)
        with __import__("socket").socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        await server.start("127.0.0.1", port)
        servers.append(server)
        urls[i], hosts[i] = f"http://127.0.0.1:{port}", host
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as http:
            result, stats = await run_aggregation(rs, urls, driver, http, timeout=120)
    finally:
        for server in servers:
            await server.stop()
    want = tuple(sum(xs[i][j] for i in result.included) % sa.P for j in range(LENGTH))
    assert result.values == want, "the sum is wrong"
    costs = [hosts[i].stats()[0] for i in result.included]
    return {
        "n": n, "graph": "complete", "threshold": rs.session.threshold,
        "dropped_after_key_agreement": drops, "length": LENGTH,
        "session_wall_s": round(stats.seconds, 3),
        "participant_protocol_cpu_s_mean": round(mean(c["cpu_seconds"] for c in costs), 4),
        "participant_protocol_cpu_s_max": round(max(c["cpu_seconds"] for c in costs), 4),
        "participant_sent_bytes_mean": round(mean(c["bytes_sent"] for c in costs)),
        "participant_recv_bytes_mean": round(mean(c["bytes_received"] for c in costs)),
        "driver_cpu_s": round(stats.cpu_seconds, 4),
        "driver_sent_bytes": stats.bytes_sent, "driver_recv_bytes": stats.bytes_received,
        "http_round_trips": stats.message_rounds, "survivors": len(result.included),
        "sum_exact": True,
    }


def main() -> int:
    """Runs every configuration, prints a table, writes the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/bench/secagg.json"))
    ap.add_argument("--scale", action="store_true",
                    help="only the large sessions (100 and 1000 participants, SecAgg+'s sparse graph "
                    "of degree 2*ceil(log2 n)), into docs/bench/secagg-scale.json by default")
    args = ap.parse_args()
    if args.scale:
        return _scale(args.out if args.out != Path("docs/bench/secagg.json") else
                      Path("docs/bench/secagg-scale.json"))
    rows = []
    head = f"{'n':>3} {'graph':>11} {'t':>3} {'drop':>4} {'cpu/part s':>10} {'max s':>7} " \
           f"{'sent/part':>10} {'recv/part':>10} {'agg cpu s':>9}"
    print(head, flush=True)
    for n, degree, drops in CONFIGS:
        r = bench(n, degree, drops)
        rows.append(r)
        print(f"{r['n']:>3} {r['graph']:>11} {r['threshold']:>3} {r['dropped_after_share_keys']:>4} "
              f"{r['participant_cpu_s_mean']:>10.3f} {r['participant_cpu_s_max']:>7.3f} "
              f"{r['participant_sent_bytes_mean']:>10} {r['participant_recv_bytes_mean']:>10} "
              f"{r['aggregator_cpu_s']:>9.3f}", flush=True)
    http_rows = []
    print(f"\nover HTTP\n{'n':>3} {'drop':>4} {'wall s':>7} {'cpu/part s':>10} {'sent/part':>10} "
          f"{'recv/part':>10} {'driver cpu s':>12}", flush=True)
    for n, drops in HTTP_CONFIGS:
        r = asyncio.run(bench_http(n, drops))
        http_rows.append(r)
        print(f"{n:>3} {drops:>4} {r['session_wall_s']:>7.2f} {r['participant_protocol_cpu_s_mean']:>10.3f} "
              f"{r['participant_sent_bytes_mean']:>10} {r['participant_recv_bytes_mean']:>10} "
              f"{r['driver_cpu_s']:>12.3f}", flush=True)
    out = {"machine": _machine(), "note": "one process, CPU time per party (time.process_time); "
           "bytes are the canonical message encodings (wire form, with 64-byte Ed25519 signatures "
           "on every participant message, verified by the aggregator); dropouts vanish after sharing keys",
           "message_rounds": ROUNDS, "sessions": rows,
           "http_note": "the workers' HTTP servers in one process, sr25519 keys, one driving candidate; "
           "participant CPU is protocol work only; dropouts leave after the key agreement",
           "http_sessions": http_rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


#: (n, degree, dropouts): the complete graph at 100 for comparison, then logarithmic
#: degrees, 2*ceil(log2 n), as SecAgg+ proposes, with and without 5 % dropouts.
SCALE_CONFIGS = [(100, None, 0), (100, 14, 0), (100, 14, 5), (1000, 20, 0), (1000, 20, 50)]


def _scale(out: Path) -> int:
    """The large simulated sessions: cost per participant as n grows."""
    rows = []
    print(f"{'n':>5} {'graph':>11} {'t':>3} {'drop':>4} {'cpu/part s':>10} {'max s':>7} "
          f"{'sent/part':>10} {'recv/part':>10} {'agg cpu s':>9}", flush=True)
    for n, degree, drops in SCALE_CONFIGS:
        started = time.monotonic()
        r = bench(n, degree, drops)
        r["wall_s"] = round(time.monotonic() - started, 1)
        rows.append(r)
        print(f"{r['n']:>5} {r['graph']:>11} {r['threshold']:>3} {r['dropped_after_share_keys']:>4} "
              f"{r['participant_cpu_s_mean']:>10.3f} {r['participant_cpu_s_max']:>7.3f} "
              f"{r['participant_sent_bytes_mean']:>10} {r['participant_recv_bytes_mean']:>10} "
              f"{r['aggregator_cpu_s']:>9.3f}", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": _machine(), "note": "as sessions in secagg.json; "
                               "one process simulates every participant", "sessions": rows}, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
