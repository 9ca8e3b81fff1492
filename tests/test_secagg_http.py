"""Secure aggregation between real worker HTTP servers (zkpot.worker.secagg_http): the candidates'
driver recovers the exact weighted sum, a participant that vanishes after the key agreement
is left out, a malicious aggregator is refused over the wire and its recorded view does not
yield the input it pretended was dropped, and bad requests get one clear error each.

Participants are the workers' own ``ModelServer`` with a ``ParticipantHost`` and sr25519
account keys, each on its own port; only the chain is left out (the session is given)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from substrateinterface import Keypair
from zkpot.fl import secagg as sa
from zkpot.worker.metrics import WorkerMetrics
from zkpot.worker.secagg_http import (
    PATH,
    ParticipantHost,
    RoundSession,
    round_session,
    run_aggregation,
    signed_headers,
)
from zkpot.worker.server import ModelServer

from tests.conftest import free_port

TASK, ROUND, L = 7, 3, 16
AGGREGATE = bytes(range(64))


@dataclass
class Net:
    rs: RoundSession
    keys: list[Keypair]
    inputs: dict[int, tuple[int, ...]]
    urls: dict[int, str]
    hosts: dict[int, ParticipantHost]
    leader: Keypair
    second: Keypair
    outsider: Keypair

    def weighted_sum(self, ids: Sequence[int]) -> tuple[int, ...]:
        return tuple(sum(self.inputs[i][k] for i in ids) % sa.P for k in range(L))


async def _network(tmp_path: Path, n: int = 5, percent: int = 60, vanish: frozenset[int] = frozenset(),
                   marked: frozenset[int] = frozenset()) -> AsyncIterator[Net]:
    keys = [Keypair.create_from_uri(f"//secagg-http-{i}") for i in range(n)]
    leader, second, outsider = (Keypair.create_from_uri(u) for u in ("//lead", "//second", "//outsider"))
    rng = random.Random(11)
    weights = [1 + i % 3 for i in range(n)]
    rs = round_session(TASK, ROUND, AGGREGATE, [(k.ss58_address, w) for k, w in zip(keys, weights, strict=True)],
                       [leader.ss58_address, second.ss58_address], percent, L)
    q = {i: [rng.randrange(-2**20, 2**20) for _ in range(L)] for i in rs.session.participants}
    inputs = {i: tuple((rs.weight(i) * v) % sa.P for v in q[i]) for i in q}
    servers, urls, hosts = [], {}, {}
    for i in rs.session.participants:
        async def spec(task: int, round: int, i: int = i) -> tuple[RoundSession, list[int]] | None:
            return (rs, list(inputs[i])) if (task, round) == (TASK, ROUND) else None
        state = tmp_path / f"p{i}"
        if i in marked:  # this worker restarted after it had started the round's session
            state.mkdir(parents=True)
            (state / f"secagg-task{TASK}-round{ROUND}.started").write_bytes(b"")
        host = ParticipantHost(keys[i - 1], state, spec, vanish_after_key_agreement=i in vanish)
        server = ModelServer(WorkerMetrics(), dict, host)
        port = free_port()
        await server.start("127.0.0.1", port)
        servers.append(server)
        urls[i], hosts[i] = f"http://127.0.0.1:{port}", host
    try:
        yield Net(rs, keys, inputs, urls, hosts, leader, second, outsider)
    finally:
        for s in servers:
            await s.stop()


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[Net]:
    async for n in _network(tmp_path):
        yield n


async def test_two_candidates_recover_the_weighted_sum_from_the_same_session(net: Net) -> None:
    async with aiohttp.ClientSession() as http:
        (r1, s1), (r2, s2) = await asyncio.gather(
            run_aggregation(net.rs, net.urls, net.leader, http, timeout=20),
            run_aggregation(net.rs, net.urls, net.second, http, timeout=20),
        )
    everyone = net.rs.session.participants
    assert r1.values == r2.values == net.weighted_sum(everyone)
    assert r1.included == r2.included == everyone
    assert s1.dropped == {} and s1.message_rounds == 5 and s1.recovered
    # One protocol state per participant, whichever candidate asks: each computed its
    # masked vector once and sent both candidates the same bytes.
    for host in net.hosts.values():
        (st,) = host.stats()
        assert st["step"] == "DONE" and st["refused"] == [] and st["requests"] == 10
        assert st["bytes_sent"] >= 2 * 32 * L
    assert s1.bytes_received == s2.bytes_received


async def test_a_contributor_that_vanishes_after_the_key_agreement_is_left_out(tmp_path: Path) -> None:
    async for net in _network(tmp_path, vanish=frozenset({2})):
        async with aiohttp.ClientSession() as http:
            result, stats = await run_aggregation(net.rs, net.urls, net.leader, http, timeout=20)
        assert result.included == (1, 3, 4, 5)
        assert result.values == net.weighted_sum((1, 3, 4, 5))
        assert list(stats.dropped) == [net.rs.account(2)]
        assert stats.dropped[net.rs.account(2)].startswith("masked_input: HTTP 503")
        assert stats.survivors == [net.rs.account(i) for i in (1, 3, 4, 5)]


async def test_too_many_dropouts_recover_nothing(tmp_path: Path) -> None:
    async for net in _network(tmp_path, n=4, percent=75, vanish=frozenset({1, 2})):
        async with aiohttp.ClientSession() as http:
            with pytest.raises(sa.UnsafeRequestError, match="fewer than the threshold"):
                await run_aggregation(net.rs, net.urls, net.leader, http, timeout=20)


async def test_a_worker_restarted_mid_session_takes_no_further_part(tmp_path: Path) -> None:
    async for net in _network(tmp_path, marked=frozenset({4})):
        async with aiohttp.ClientSession() as http:
            result, stats = await run_aggregation(net.rs, net.urls, net.leader, http, timeout=20)
        assert result.included == (1, 2, 3, 5)
        assert "HTTP 410" in stats.dropped[net.rs.account(4)]


async def test_a_malformed_answer_is_refused_and_the_round_goes_on(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Participant 3 answers the masked-input step with a vector of the wrong length, and
    participant 4 with a value outside the field: the driver refuses both (one reason
    each), treats them as dropped after the key agreement and recovers the others' sum."""
    answer = ParticipantHost._answer

    def corrupt(p: sa.Participant, session: sa.Session, body: bytes, st: object) -> bytes:
        out = answer(p, session, body, st)
        msg = sa.decode(out, session)
        if isinstance(msg, sa.MaskedInput) and p.id == 3:
            return sa.MaskedInput(msg.task, msg.round, msg.sender, msg.values[:-1],
                                  msg.signature).encode()
        if isinstance(msg, sa.MaskedInput) and p.id == 4:
            # The first element's 32 bytes (before the signature) set to p itself.
            at = len(out) - 4 - len(msg.signature) - 32 * L
            return out[:at] + sa.P.to_bytes(32, "big") + out[at + 32:]
        return out

    async for net in _network(tmp_path):
        monkeypatch.setattr(ParticipantHost, "_answer", staticmethod(corrupt))
        async with aiohttp.ClientSession() as http:
            result, stats = await run_aggregation(net.rs, net.urls, net.leader, http, timeout=20)
        assert result.included == (1, 2, 5)
        assert result.values == net.weighted_sum((1, 2, 5))
        assert set(stats.dropped) == {net.rs.account(3), net.rs.account(4)}
        assert "elements" in stats.dropped[net.rs.account(3)], stats.dropped
        assert "field element" in stats.dropped[net.rs.account(4)]
        assert all(why.startswith("masked_input: ") for why in stats.dropped.values())


class Recorder:
    """A malicious aggregator candidate that talks to the participants directly and records
    every byte it receives."""

    def __init__(self, net: Net, http: aiohttp.ClientSession, key: Keypair) -> None:
        self.net, self.http, self.key = net, http, key
        self.view: list[bytes] = []

    async def post(self, pid: int, body: bytes) -> tuple[int, bytes]:
        path = PATH.format(task=TASK, round=ROUND)
        async with self.http.post(self.net.urls[pid] + path, data=body,
                                  headers=signed_headers(self.key, path, body)) as r:
            data = await r.read()
        if r.status == 200:
            self.view.append(data)
        return r.status, data

    async def ask(self, pids: Sequence[int], bodies: dict[int, bytes] | bytes) -> dict[int, object]:
        out = {}
        for pid in pids:
            status, data = await self.post(pid, bodies if isinstance(bodies, bytes) else bodies[pid])
            assert status == 200, data
            out[pid] = sa.decode(data, self.net.rs.session)
        return out


async def test_malicious_aggregator_cannot_learn_an_input_it_claims_dropped(net: Net) -> None:
    """The aggregator receives 5's masked vector, claims 5 dropped, collects 5's mask-key
    shares, then asks (as itself and as a colluding second candidate) for 5's self-mask
    shares: every honest participant refuses, and its recorded view does not give x_5."""
    s, victim, t = net.rs.session, 5, net.rs.session.threshold
    async with aiohttp.ClientSession() as http:
        me = Recorder(net, http, net.leader)
        agg = sa.Aggregator(s, net.rs.verify)
        everyone = list(s.participants)
        for m in (await me.ask(everyone, b"")).values():
            agg.receive_keys(m)
        rosters = {pid: agg.roster_for(pid).encode() for pid in everyone}
        for m in (await me.ask(everyone, rosters)).values():
            agg.receive_shares(m)
        forwarded = {pid: f.encode() for pid, f in agg.forward_shares().items()}
        masked = await me.ask(everyone, forwarded)
        for pid, m in masked.items():
            if pid != victim:  # received, then claimed lost
                agg.receive_masked(m)
        claim = agg.consistency_request()
        others = sorted(claim.survivors)
        for m in (await me.ask(others, claim.encode())).values():
            agg.receive_consistency(m)
        unmask = agg.unmask_request()
        assert unmask.dropped == {victim}
        for m in (await me.ask(others, unmask.encode())).values():
            agg.receive_unmask(m)
        assert agg.finish().values == net.weighted_sum(others)

        # Now the shares that would strip 5's self mask: a survivor set with 5 in it (signed
        # by nobody, and not the certified one), from either candidate, or a fresh
        # certification of that set.
        full = frozenset(s.participants)
        forged = sa.UnmaskRequest(s.task, s.round, full, frozenset(), dict(unmask.signatures))
        both = sa.UnmaskRequest(s.task, s.round, claim.survivors, frozenset({victim}) | frozenset(),
                                dict(unmask.signatures))
        colluder = Recorder(net, http, net.second)
        for pid in others:
            for who, body in ((me, forged.encode()), (colluder, forged.encode()),
                              (me, sa.ConsistencyRequest(s.task, s.round, full).encode())):
                status, text = await who.post(pid, body)
                assert status == 409, (pid, status, text)
            # The identical request again is answered identically: nothing new.
            assert (await me.post(pid, both.encode()))[0] == 200
        for host in (net.hosts[pid] for pid in others):
            assert len(host.stats()[0]["refused"]) == 3

    # Everything it received: 5's masked vector, t or more s-shares of 5, no b-share of 5.
    view = [sa.decode(b, s) for b in me.view + colluder.view]
    y5 = next(m for m in view if isinstance(m, sa.MaskedInput) and m.sender == victim)
    b_of_5 = {m.sender: m.b_shares[victim] for m in view if isinstance(m, sa.UnmaskResponse)
              and victim in m.b_shares}
    s_of_5 = {m.sender: m.s_shares[victim] for m in view if isinstance(m, sa.UnmaskResponse)
              and victim in m.s_shares}
    assert b_of_5 == {} and len(s_of_5) >= t
    # Its best guess: strip 5's pairwise masks with the rebuilt mask key.
    key5 = sa.mask_key_from_seed(sa.shamir_reconstruct(s_of_5))
    ads = {m.sender: m for m in view if isinstance(m, sa.AdvertiseKeys)}
    acc = list(y5.values)
    for u in s.neighbours(victim):
        seed = s.pair_seed(key5, victim, ads[u].s_public, u)
        sa.add_into(acc, sa.pair_mask(seed, L), -sa.pair_mask_sign(victim, u))
    guess = tuple(a % sa.P for a in acc)
    # What is left is x_5 behind its self mask, PRG(b_5), and b_5 was never released.
    assert guess != net.inputs[victim]
    b5 = net.hosts[victim]._sessions[(TASK, ROUND)].participant._b
    assert guess == tuple((x + m) % sa.P for x, m in zip(net.inputs[victim], sa.self_mask(b5, L), strict=True))


async def test_bad_requests_get_one_clear_error_and_change_nothing(net: Net) -> None:
    s = net.rs.session
    path = PATH.format(task=TASK, round=ROUND)
    url = net.urls[1] + path
    async with aiohttp.ClientSession() as http:
        async def post(body: bytes, headers: dict[str, str], target: str = url) -> tuple[int, str]:
            async with http.post(target, data=body, headers=headers) as r:
                return r.status, await r.text()

        assert (await post(b"", {}))[0] == 401  # unsigned
        tampered = signed_headers(net.leader, path, b"")
        assert (await post(b"x", tampered))[0] == 401  # signature over another body
        status, text = await post(b"", signed_headers(net.outsider, path, b""))
        assert status == 403 and "candidates" in text
        other = PATH.format(task=TASK, round=ROUND + 1)
        assert (await post(b"", signed_headers(net.leader, other, b""), net.urls[1] + other))[0] == 404
        me = Recorder(net, http, net.leader)
        (ad,) = (await me.ask([1], b"")).values()
        # Garbage, a message for another round, and a participant's message instead of a
        # request: one 400 each, with the reason.
        for body, why in ((b"\xff\x01junk", "tag"),
                          (sa.ConsistencyRequest(s.task, s.round + 1, frozenset({1, 2, 3})).encode(), "round"),
                          (ad.encode(), "not a request")):
            status, text = await me.post(1, body)
            assert status == 400 and why in text.decode(), (status, text)
        # A request of a later step before this one: refused as out of step.
        status, text = await me.post(1, sa.ConsistencyRequest(s.task, s.round, frozenset({1, 2, 3})).encode())
        assert status == 400 and b"step" in text
        # Nothing changed: the session still runs to the exact sum.
        result, _ = await run_aggregation(net.rs, net.urls, net.leader, http, timeout=20)
        assert result.values == net.weighted_sum(s.participants)
