"""``zkpot status``: the chain's ZKPoT state in one screen, or as JSON for scripts.

A snapshot reads one block (the best one when it starts) so that everything in it belongs
together: the tasks with their current round (phase, blocks left, commits and reveals so
far), the newest election records (leader, scores, authors, the aggregate and its
publication), the proofs accepted and rejected in the newest blocks with the verifier's
reason, and the workers with their deposits and endpoints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from zkpot.chain.client import PALLET, Round, Zkpot


def _uri(value: Any) -> str:
    if isinstance(value, str) and value.startswith("0x"):
        return bytes.fromhex(value[2:]).decode(errors="replace")
    return str(value)


def _blocks_left(rnd: Round, best: int) -> int | None:
    end = {"Commit": rnd.commit_end, "Reveal": rnd.reveal_end}.get(rnd.phase, rnd.deadline)
    return None if end is None else max(0, int(end) - best)


def reason_text(reason: Any) -> str:
    """A ``ProofRejected`` reason as substrate-interface decodes it, in one line:
    ``InvalidProof: NotOnCurve (offset 64)``, ``BelowMinimum (score 20, min_score 24)``."""
    if isinstance(reason, dict) and len(reason) == 1:
        ((name, inner),) = reason.items()
        if inner is None:
            return str(name)
        if isinstance(inner, str):
            return f"{name}: {inner}"
        if isinstance(inner, dict) and inner and all(isinstance(v, int) for v in inner.values()):
            return f"{name} ({', '.join(f'{k} {v}' for k, v in inner.items())})"
        return f"{name}: {reason_text(inner)}"
    return str(reason)


#: Blocks one call of :func:`proof_outcomes` reads at most: a caller that is further
#: behind reads the newest ones.
MAX_EVENT_BLOCKS = 600


async def proof_outcomes(zk: Zkpot, first: int, last: int, task: int | None = None) -> list[dict[str, Any]]:
    """Every ``ProofAccepted`` and ``ProofRejected`` of blocks ``first..=last`` (at most
    the newest :data:`MAX_EVENT_BLOCKS`), oldest first: block, task, round, who, and the
    score or the reason."""
    out: list[dict[str, Any]] = []
    for n in range(max(first, last - MAX_EVENT_BLOCKS + 1, 0), last + 1):
        block_hash = await zk.chain.call(zk.c.block_hash, n)
        for e in await zk.events(block_hash):
            if e["event_id"] not in ("ProofAccepted", "ProofRejected"):
                continue
            a = e["attributes"]
            if task is not None and int(a["task"]) != task:
                continue
            entry = {"block": n, "task": int(a["task"]), "round": int(a["round"]), "who": str(a["who"]),
                     "accepted": e["event_id"] == "ProofAccepted"}
            if entry["accepted"]:
                entry["score"] = int(a["score"])
            else:
                entry["reason"] = reason_text(a["reason"])
            out.append(entry)
    return out


async def snapshot(zk: Zkpot, task: int | None = None, history: int = 3,
                   event_blocks: int = 30) -> dict[str, Any]:
    """The state at the best block: every task (or only ``task``), its current round and
    its newest ``history`` election records, the proofs accepted and rejected in the newest
    ``event_blocks`` blocks, and every worker."""
    c = zk.c
    block_hash = await zk.chain.call(c.block_hash)
    best = await zk.chain.call(c.block_number, block_hash)

    async def query(item: str, params: list[Any]) -> Any:
        return await zk.chain.call(c.query, PALLET, item, params, block_hash)

    async def query_map(item: str, params: list[Any] | None = None) -> list[tuple[Any, Any]]:
        return await zk.chain.call(c.query_map, PALLET, item, params, block_hash)

    tasks = []
    for key, info in sorted(await query_map("Tasks"), key=lambda kv: int(kv[0])):
        tid = int(key)
        if task is not None and tid != task:
            continue
        vka = await query("TaskVkas", [tid])
        entry: dict[str, Any] = {
            "id": tid, "status": str(info["status"]), "min_score": int(info["min_score"]),
            "vka_hash": str(info["vka_hash"]),
            "vka_bytes": (len(vka) - 2) // 2 if isinstance(vka, str) else len(vka or b""),
            "verify_weight_ref_time": int(info["verify_weight"]["ref_time"]),
            "timing": {k: int(v) for k, v in info["timing"].items()},
            "aggregation": {k: (int(v) if str(v).isdigit() else str(v)) for k, v in info["aggregation"].items()},
            "global_model": {"commitment": str(info["global_model"]["commitment"]),
                             "uri": _uri(info["global_model"]["uri"])},
            "round": None, "elections": [],
        }
        raw_round = await query("Rounds", [tid])
        if raw_round is not None:
            rnd = Round.decode(raw_round)
            commits = await query_map("Commits", [(tid, rnd.index)])
            entry["round"] = {
                "index": rnd.index, "phase": rnd.phase, "turn": rnd.turn,
                "blocks_left": _blocks_left(rnd, best), "base_model": rnd.base_model,
                "commits": len(commits), "reveals": sum(1 for _, v in commits if v["revealed"]),
                "contributions": len(await query_map("Contributions", [(tid, rnd.index)])),
            }
            for r in range(rnd.index, max(0, rnd.index - 1 - history), -1):
                rec = await query("Elections", [(tid, r)])
                if rec is None:
                    continue
                agg, pub = rec.get("aggregate"), rec.get("published")
                entry["elections"].append({
                    "round": r,
                    "leader": str(rec["ranking"][0][0]) if rec["ranking"] else None,
                    "ranking": [[str(w), int(s)] for w, s in rec["ranking"]],
                    "authors": [str(a) for a in rec["authors"]],
                    "outcome": rec["outcome"] if isinstance(rec["outcome"], str) else rec["outcome"],
                    "aggregate": None if not agg else {
                        "commitment": str(agg["commitment"]),
                        "included": [[str(w), int(x)] for w, x in agg["included"]]},
                    "left_out": [str(w) for w in rec.get("left_out") or []],
                    "published": None if not pub else {"by": str(pub["by"]),
                                                       "uri": _uri(pub["model"]["uri"])},
                    "settlement": rec.get("settlement"),
                })
                if len(entry["elections"]) >= history:
                    break
        tasks.append(entry)
    workers = []
    endpoints = dict((str(k), _uri(v)) for k, v in await query_map("WorkerEndpoints"))
    for key, info in sorted(await query_map("Workers"), key=lambda kv: str(kv[0])):
        workers.append({"account": str(key), "deposit": int(info["deposit"]),
                        "open_rounds": int(info["open_rounds"]), "invalid_proofs": int(info["invalid_proofs"]),
                        "leaving": bool(info["leaving"]), "endpoint": endpoints.get(str(key))})
    proofs = await proof_outcomes(zk, best - event_blocks + 1, best, task) if event_blocks > 0 else []
    return {"block": {"number": best, "hash": block_hash}, "tasks": tasks, "workers": workers,
            "proofs": {"blocks": [max(0, best - event_blocks + 1), best], "events": proofs}}


def render(snap: dict[str, Any], short: Callable[[str], str] = lambda a: a[:8] + "…") -> str:
    """The snapshot as plain text for a terminal."""
    out = [f"block #{snap['block']['number']} {snap['block']['hash'][:18]}…"]
    for t in snap["tasks"]:
        out.append(f"\ntask {t['id']} [{t['status']}]  min score {t['min_score']}  VKA {t['vka_bytes']} B  "
                   f"verification {t['verify_weight_ref_time'] / 1e9:.1f} ms of weight")
        r = t["round"]
        if r:
            left = "" if r["blocks_left"] is None else f", {r['blocks_left']} blocks left"
            out.append(f"  round {r['index']}: {r['phase']}{left}; {r['commits']} commits, "
                       f"{r['reveals']} revealed, {r['contributions']} accepted")
        for e in t["elections"]:
            scores = ", ".join(f"{short(w)} {s}" for w, s in e["ranking"]) or "none"
            line = f"  election {e['round']}: leader {short(e['leader']) if e['leader'] else '-'}; scores {scores}"
            out.append(line)
            if e["aggregate"]:
                pub = e["published"]
                out.append(f"    aggregate {e['aggregate']['commitment'][:18]}… over "
                           f"{len(e['aggregate']['included'])}"
                           + (f", left out {len(e['left_out'])}" if e["left_out"] else "")
                           + (f"; published by {short(pub['by'])} at {pub['uri']}" if pub else "; not published"))
            out.append(f"    authors {', '.join(short(a) for a in e['authors']) or '(unchanged)'}")
    proofs = snap.get("proofs") or {"blocks": [0, 0], "events": []}
    first, last = proofs["blocks"]
    accepted = [p for p in proofs["events"] if p["accepted"]]
    rejected = [p for p in proofs["events"] if not p["accepted"]]
    out.append(f"\nproofs in blocks {first}..{last}: {len(accepted)} accepted, {len(rejected)} rejected")
    for p in rejected:
        out.append(f"  rejected #{p['block']} task {p['task']} round {p['round']} "
                   f"{short(p['who'])}: {p['reason']}")
    out.append(f"\nworkers ({len(snap['workers'])}):")
    for w in snap["workers"]:
        out.append(f"  {w['account']}  deposit {w['deposit']}  open rounds {w['open_rounds']}"
                   f"{'  LEAVING' if w['leaving'] else ''}  {w['endpoint'] or '(no endpoint)'}")
    return "\n".join(out)


async def watch(zk: Zkpot, task: int | None, emit: Callable[[dict[str, Any]], None],
                stop: asyncio.Event, poll: float = 1.0, history: int = 3, event_blocks: int = 30) -> None:
    """Emits a snapshot now and again whenever the best block changes, until ``stop``."""
    last = None
    while not stop.is_set():
        best = await zk.best_number()
        if best != last:
            last = best
            emit(await snapshot(zk, task, history, event_blocks))
        try:
            await asyncio.wait_for(stop.wait(), poll)
        except TimeoutError:
            pass
