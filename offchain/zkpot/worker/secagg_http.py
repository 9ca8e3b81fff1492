"""Secure aggregation between workers over their HTTP servers.

The protocol itself is :mod:`zkpot.fl.secagg` (transport-free state machines); this module
carries it between workers and binds it to the chain's round:

- :func:`round_session` turns a round's election record into a :class:`RoundSession`: the
  aggregated contributors (participant ``i + 1`` is the ``i``-th entry of the record's
  included list), their public weights, the Shamir threshold from the task's
  ``min_included_percent`` and a session context that contains the task id and the
  aggregate commitment ``A`` the chain computed, so no message fits another round or chain.
- :class:`ParticipantHost` is a worker's participant side, behind
  ``POST /secagg/{task}/{round}`` on its server. The body is the aggregator's broadcast of a
  step (empty for "advertise your keys"), the response the participant's signed message. It
  answers only the round's aggregator candidates (signed requests), keeps one protocol
  state per round whichever candidate asks, and answers a repeated request with the same
  bytes, so every candidate can drive the same session and all of them see the same
  messages. An honest participant's refusals (both shares of one contributor, a second
  survivor set, ...) hold across candidates, since the state is per round.
- :func:`run_aggregation` is a candidate's driver: it runs the five message rounds against
  the participants' servers concurrently, treats a participant that does not answer a step
  (or answers with something the protocol refuses) as dropped from that step on, and
  returns the sum over the survivors.

Keys: each participant's two X25519 keys are fresh for every round and travel inside an
``AdvertiseKeys`` message signed by its sr25519 account key, which the chain knows. That
signature binds the keys to the account (and gives forward secrecy across rounds) without a
key registry on chain.

Restarts: a participant's secrets live in memory only. A worker that restarts during a
round's secure aggregation must not start it again with new masks (two different masked
vectors of one input are not covered by the protocol's analysis), so it writes a marker
file before its first answer and afterwards refuses the round: it counts as dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from substrateinterface import Keypair

from zkpot.fl import secagg as sa

log = logging.getLogger(__name__)

#: Path of the participant endpoint (formatted with task and round).
PATH = "/secagg/{task}/{round}"
#: Largest request body a participant accepts: a broadcast of the aggregator (rosters and
#: share maps grow with the number of participants, never with the model).
MAX_REQUEST_BYTES = 1 << 20
#: Repeated requests answered from the cache, per session (different unmasking requests
#: from several candidates are the only ones that legitimately differ).
MAX_CACHED = 16
#: Sessions a host keeps (the newest rounds).
KEEP_SESSIONS = 4


class HostRefusal(Exception):
    """A participant refuses a request; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# --------------------------------------------------------------------------------------
# The round's session


@dataclass(frozen=True)
class RoundSession:
    """The secure-aggregation session of one round and who is who in it."""

    task: int
    session: sa.Session
    #: Account of participant ``i + 1``.
    accounts: tuple[str, ...]
    #: The chain's weight of each participant's contribution (same order).
    weights: tuple[int, ...]
    #: The accounts that may drive the session (the round's aggregator candidates).
    candidates: frozenset[str]
    _keys: dict[str, Keypair] = field(default_factory=dict, compare=False, repr=False)

    def pid(self, account: str) -> int | None:
        """The participant id of ``account`` (``None`` if it is not one)."""
        try:
            return self.accounts.index(account) + 1
        except ValueError:
            return None

    def account(self, pid: int) -> str:
        """The account of participant ``pid``."""
        return self.accounts[pid - 1]

    def weight(self, pid: int) -> int:
        """The weight of participant ``pid``'s contribution."""
        return self.weights[pid - 1]

    def verify(self, pid: int, message: bytes, signature: bytes) -> bool:
        """``signature`` is participant ``pid``'s sr25519 signature of ``message``."""
        if not 1 <= pid <= len(self.accounts):
            return False
        account = self.accounts[pid - 1]
        kp = self._keys.get(account)
        if kp is None:
            kp = self._keys[account] = Keypair(ss58_address=account)
        try:
            return bool(kp.verify(message, signature))
        except (ValueError, TypeError):
            return False


def threshold(n: int, min_included_percent: int) -> int:
    """Shamir threshold for ``n`` contributors: the smallest survivor count the chain
    accepts as an included set (``min_included_percent``), and at least 2."""
    return min(n, max(2, -(-n * min_included_percent // 100)))


def round_session(task: int, round: int, aggregate: bytes, included: Sequence[tuple[str, int]],
                  candidates: Sequence[str], min_included_percent: int, length: int,
                  degree: int | None = None) -> RoundSession:
    """The session of a round from its election record: ``aggregate`` is the raw 64-byte
    commitment ``A``, ``included`` the record's (account, weight) list."""
    if len(included) < 2:
        raise sa.SecAggError(
            "secure aggregation needs at least two contributions: the sum of one is the "
            "contribution itself")
    if len(aggregate) != 64:
        raise sa.SecAggError("the aggregate commitment must be 64 bytes")
    accounts = tuple(str(a) for a, _ in included)
    context = b"zkpot" + task.to_bytes(4, "big") + aggregate
    session = sa.Session(context, round, tuple(range(1, len(accounts) + 1)),
                         threshold(len(accounts), min_included_percent), length, degree)
    return RoundSession(task, session, accounts, tuple(int(w) for _, w in included), frozenset(candidates))


# --------------------------------------------------------------------------------------
# Signed requests


def request_message(path: str, timestamp: str, body: bytes) -> bytes:
    """What a requester signs: the path, the time and the body's hash, so that a signature
    fits one request."""
    return f"zkpot-request:{path}:{timestamp}:{hashlib.sha256(body).hexdigest()}".encode()


def signed_headers(keypair: Keypair, path: str, body: bytes = b"") -> dict[str, str]:
    """Headers that authenticate a request by ``keypair``."""
    ts = str(int(time.time()))
    return {
        H_ACCOUNT: keypair.ss58_address,
        H_TIME: ts,
        H_SIGNATURE: "0x" + keypair.sign(request_message(path, ts, body)).hex(),
    }


#: Headers of a signed request.
H_ACCOUNT = "X-Zkpot-Account"
H_TIME = "X-Zkpot-Timestamp"
H_SIGNATURE = "X-Zkpot-Signature"
#: Signed requests older (or newer) than this are refused.
MAX_REQUEST_AGE = 300.0


def verified_requester(headers: Mapping[str, str], path: str, body: bytes) -> str | None:
    """The account that signed this request, or ``None`` if the signature, the account or
    the time does not check out."""
    account = headers.get(H_ACCOUNT, "")
    ts = headers.get(H_TIME, "")
    sig = headers.get(H_SIGNATURE, "")
    try:
        if abs(time.time() - int(ts)) > MAX_REQUEST_AGE:
            return None
        ok = Keypair(ss58_address=account).verify(request_message(path, ts, body), sig)
    except (ValueError, TypeError):
        return None
    return account if ok else None


# --------------------------------------------------------------------------------------
# The participant side


@dataclass
class ParticipantStats:
    """What one round's secure aggregation cost this participant."""

    round: int
    cpu_seconds: float = 0.0
    bytes_received: int = 0
    bytes_sent: int = 0
    requests: int = 0
    refused: list[str] = field(default_factory=list)
    step: str = ""

    def as_dict(self) -> dict[str, Any]:
        """For ``/health``."""
        return {"round": self.round, "cpu_seconds": round(self.cpu_seconds, 4),
                "bytes_received": self.bytes_received, "bytes_sent": self.bytes_sent,
                "requests": self.requests, "refused": self.refused[-8:], "step": self.step}


#: ``spec(task, round)``: the round's session and this worker's input ``w_i q_i`` (field
#: elements), or ``None`` when this worker is not one of the round's aggregated contributors.
SessionSpec = Callable[[int, int], Awaitable[tuple[RoundSession, Sequence[int]] | None]]


@dataclass
class _Hosted:
    rs: RoundSession
    participant: sa.Participant
    stats: ParticipantStats
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    cache: dict[bytes, bytes] = field(default_factory=dict)


class ParticipantHost:
    """A worker's side of its rounds' secure aggregations (see the module doc)."""

    def __init__(self, keypair: Keypair, marker_dir: Path, spec: SessionSpec, *,
                 vanish_after_key_agreement: bool = False) -> None:
        self._kp = keypair
        self._markers = marker_dir
        self._spec = spec
        self._vanish = vanish_after_key_agreement
        self._sessions: dict[tuple[int, int], _Hosted] = {}
        self._opening = asyncio.Lock()

    def stats(self) -> list[dict[str, Any]]:
        """Costs of the newest sessions (for ``/health``)."""
        return [h.stats.as_dict() for _, h in sorted(self._sessions.items())]

    def _marker(self, task: int, round: int) -> Path:
        return self._markers / f"secagg-task{task}-round{round}.started"

    async def _hosted(self, task: int, round: int, requester: str) -> _Hosted:
        async with self._opening:
            hosted = self._sessions.get((task, round))
            if hosted is not None:
                return hosted
            marker = self._marker(task, round)
            if marker.exists():
                raise HostRefusal(410, "this worker restarted during the round's secure "
                                       "aggregation and takes no further part in it")
            spec = await self._spec(task, round)
            if spec is None:
                raise HostRefusal(404, "not a participant of this round's secure aggregation")
            rs, values = spec
            if requester not in rs.candidates:
                raise HostRefusal(403, "only the round's aggregator candidates drive its secure aggregation")
            me = rs.pid(self._kp.ss58_address)
            if me is None:
                raise HostRefusal(404, "not a participant of this round's secure aggregation")
            participant = sa.Participant(rs.session, me, values, self._sign, rs.verify)
            # Durable before the first message leaves: a restart must not start over.
            self._markers.mkdir(parents=True, exist_ok=True)
            marker.write_bytes(b"")
            hosted = _Hosted(rs, participant, ParticipantStats(round))
            self._sessions[(task, round)] = hosted
            for old in sorted(self._sessions)[:-KEEP_SESSIONS]:
                del self._sessions[old]
            return hosted

    def _sign(self, message: bytes) -> bytes:
        return bytes(self._kp.sign(message))

    async def handle(self, task: int, round: int, requester: str, body: bytes) -> bytes:
        """Answers one request of a candidate; raises :class:`HostRefusal`."""
        hosted = await self._hosted(task, round, requester)
        if requester not in hosted.rs.candidates:
            raise HostRefusal(403, "only the round's aggregator candidates drive its secure aggregation")
        async with hosted.lock:
            st = hosted.stats
            st.requests += 1
            st.bytes_received += len(body)
            cached = hosted.cache.get(body)
            if cached is not None:
                st.bytes_sent += len(cached)
                return cached
            p = hosted.participant
            if self._vanish and p.step >= sa.Step.MASKED_INPUT:
                raise HostRefusal(503, "this worker left the round after the key agreement (--dropout)")
            try:
                out = await asyncio.to_thread(self._answer, p, hosted.rs.session, body, st)
            except sa.UnsafeRequestError as e:
                st.refused.append(str(e))
                log.warning("round %d: refused a request of %s: %s", round, requester, e)
                raise HostRefusal(409, str(e)) from None
            except sa.ProtocolError as e:
                st.refused.append(str(e))
                log.warning("round %d: refused a request of %s: %s", round, requester, e)
                raise HostRefusal(400, str(e)) from None
            if len(hosted.cache) < MAX_CACHED:
                hosted.cache[body] = out
            st.bytes_sent += len(out)
            st.step = p.step.name
            return out

    @staticmethod
    def _answer(p: sa.Participant, session: sa.Session, body: bytes, st: ParticipantStats) -> bytes:
        start = time.thread_time()
        try:
            if not body:
                if p.step != sa.Step.ADVERTISE:
                    raise sa.ProtocolError("keys were advertised already, with other requests since")
                return p.advertise_keys().encode()
            msg = sa.decode(body, session)
            if isinstance(msg, sa.Roster):
                return p.share_keys(msg).encode()
            if isinstance(msg, sa.ForwardedShares):
                return p.masked_input(msg).encode()
            if isinstance(msg, sa.ConsistencyRequest):
                return p.consistency(msg).encode()
            if isinstance(msg, sa.UnmaskRequest):
                return p.unmask(msg).encode()
            raise sa.ProtocolError(f"{type(msg).__name__} is not a request to a participant")
        finally:
            st.cpu_seconds += time.thread_time() - start


# --------------------------------------------------------------------------------------
# The aggregator side


@dataclass
class RunStats:
    """What one candidate's run of a round's secure aggregation saw and cost."""

    round: int
    participants: int = 0
    threshold: int = 0
    survivors: list[str] = field(default_factory=list)
    #: Participants that did not get through every step, with the step they missed.
    dropped: dict[str, str] = field(default_factory=dict)
    message_rounds: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    recovered: bool = False
    #: Whether ``C(s)`` equals the aggregate commitment over the survivors (set by the caller).
    matched: bool | None = None
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        """For ``/health`` and the demo's report."""
        return {"round": self.round, "participants": self.participants, "threshold": self.threshold,
                "survivors": self.survivors, "dropped": self.dropped,
                "message_rounds": self.message_rounds, "bytes_sent": self.bytes_sent,
                "bytes_received": self.bytes_received, "seconds": round(self.seconds, 3),
                "cpu_seconds": round(self.cpu_seconds, 4), "recovered": self.recovered,
                "matched": self.matched, "error": self.error}


class _Driver:
    def __init__(self, rs: RoundSession, endpoints: Mapping[int, str], keypair: Keypair,
                 http: aiohttp.ClientSession, timeout: float, stats: RunStats) -> None:
        self.rs = rs
        self.s = rs.session
        self.endpoints = endpoints
        self.kp = keypair
        self.http = http
        self.timeout = timeout
        self.stats = stats
        self.agg = sa.Aggregator(rs.session, rs.verify)
        # A response is at most a masked vector plus per-participant data.
        self.max_response = 4096 + 32 * self.s.length + 512 * len(self.s.participants)

    async def _post(self, pid: int, body: bytes) -> bytes:
        path = PATH.format(task=self.rs.task, round=self.s.round)
        url = self.endpoints[pid].rstrip("/") + path
        headers = {**signed_headers(self.kp, path, body), "Content-Type": "application/octet-stream"}
        self.stats.bytes_sent += len(body)
        async with self.http.post(url, data=body, headers=headers,
                                  timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
            data = await resp.content.read(self.max_response + 1)
            if resp.status != 200:
                raise sa.SecAggError(f"HTTP {resp.status}: {data[:200].decode(errors='replace')}")
            if len(data) > self.max_response:
                raise sa.SecAggError("response larger than any message of the protocol")
        self.stats.bytes_received += len(data)
        return data

    async def step(self, name: str, requests: Mapping[int, bytes], expect: type,
                   receive: Callable[[Any], None]) -> None:
        """One message round: sends each participant its request, feeds the answers to the
        aggregator; a participant without a valid answer is dropped from here on."""
        self.stats.message_rounds += 1
        pids = [pid for pid in sorted(requests) if pid in self.endpoints]
        for pid in sorted(requests):
            if pid not in self.endpoints:
                self.stats.dropped.setdefault(self.rs.account(pid), f"{name}: no endpoint on chain")
        answers = await asyncio.gather(*(self._post(pid, requests[pid]) for pid in pids),
                                       return_exceptions=True)
        for pid, answer in zip(pids, answers, strict=True):
            who = self.rs.account(pid)
            try:
                if isinstance(answer, BaseException):
                    raise answer
                start = time.process_time()
                try:
                    msg = sa.decode(answer, self.s)
                    if not isinstance(msg, expect) or getattr(msg, "sender", pid) != pid:
                        raise sa.ProtocolError(f"expected {expect.__name__} from participant {pid}")
                    receive(msg)
                finally:
                    self.stats.cpu_seconds += time.process_time() - start
            except (sa.SecAggError, aiohttp.ClientError, TimeoutError, OSError) as e:
                self.stats.dropped.setdefault(who, f"{name}: {e}")
                log.info("round %d: participant %s out at %s: %s", self.s.round, who, name, e)

    async def run(self) -> sa.AggregateResult:
        agg, s = self.agg, self.s
        await self.step("advertise_keys", {pid: b"" for pid in s.participants},
                        sa.AdvertiseKeys, agg.receive_keys)
        rosters = {pid: agg.roster_for(pid).encode() for pid in sorted(agg.roster().keys)}
        await self.step("share_keys", rosters, sa.ShareKeys, agg.receive_shares)
        forwarded = {pid: m.encode() for pid, m in agg.forward_shares().items()}
        await self.step("masked_input", forwarded, sa.MaskedInput, agg.receive_masked)
        request = agg.consistency_request()
        await self.step("consistency", {pid: request.encode() for pid in request.survivors},
                        sa.ConsistencySignature, agg.receive_consistency)
        unmask = agg.unmask_request()
        await self.step("unmask", {pid: unmask.encode() for pid in unmask.signatures},
                        sa.UnmaskResponse, agg.receive_unmask)
        start = time.process_time()
        result = await asyncio.to_thread(agg.finish)
        self.stats.cpu_seconds += time.process_time() - start
        return result


async def run_aggregation(rs: RoundSession, endpoints: Mapping[int, str], keypair: Keypair,
                          http: aiohttp.ClientSession, *, timeout: float = 30.0,
                          stats: RunStats | None = None) -> tuple[sa.AggregateResult, RunStats]:
    """Drives the round's secure aggregation as one of its candidates: ``endpoints`` maps
    participant ids to base URLs. Returns ``sum_{survivors} w_i q_i`` and what the run saw;
    raises :class:`zkpot.fl.secagg.SecAggError` when too few participants got through a step
    (``stats`` then says who dropped where)."""
    stats = stats or RunStats(rs.session.round)
    stats.participants = len(rs.accounts)
    stats.threshold = rs.session.threshold
    start = time.monotonic()
    try:
        result = await _Driver(rs, endpoints, keypair, http, timeout, stats).run()
    except sa.SecAggError as e:
        stats.error = str(e)
        raise
    finally:
        stats.seconds = time.monotonic() - start
    stats.survivors = [rs.account(pid) for pid in result.included]
    stats.recovered = True
    return result, stats
