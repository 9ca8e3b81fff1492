"""The chain client: everything the off-chain side says to or reads from the chain.

Built on substrate-interface. Its calls block, so the async worker goes through
:class:`AsyncChain`, which runs them in a thread, serialises submissions per account with a
local nonce (parallel submissions do not collide), maps dispatch errors to one clear line,
and reconnects with backoff when the node goes away.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from scalecodec.base import ScaleType
from substrateinterface import Keypair, SubstrateInterface
from substrateinterface.exceptions import SubstrateRequestException
from websocket import WebSocketTimeoutException

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Pallet name of ZKPoT in the runtime (``api.query.zkpot`` in polkadot.js).
PALLET = "Zkpot"


class ChainError(RuntimeError):
    """A chain operation failed; the message is one line that says why."""


class ExtrinsicFailed(ChainError):
    """An extrinsic was included in a block but its dispatch failed."""

    def __init__(self, pallet: str, error: str, docs: str) -> None:
        super().__init__(f"{pallet}.{error}: {docs}" if docs else f"{pallet}.{error}")
        self.pallet = pallet
        self.error = error
        self.docs = docs


class TransactionRejected(ChainError):
    """The node refused the transaction before inclusion (bad nonce, fees, validity)."""


@dataclass
class Receipt:
    """What came of an included extrinsic."""

    extrinsic_hash: str
    block_hash: str
    block_number: int
    events: list[dict[str, Any]] = field(default_factory=list)
    fee: int = 0

    def events_of(self, pallet: str, name: str | None = None) -> list[dict[str, Any]]:
        """The attributes of this extrinsic's events of ``pallet`` (and ``name``)."""
        return [
            e["attributes"]
            for e in self.events
            if e["module_id"] == pallet and (name is None or e["event_id"] == name)
        ]


def _plain(value: Any) -> Any:
    """A decoded SCALE value as plain Python data."""
    if isinstance(value, ScaleType):
        return value.value
    return value


class _Substrate(SubstrateInterface):
    """substrate-interface that signs against the genesis hash the runtime checks.

    Transactions are signed over the genesis hash, which the runtime compares with
    ``System::BlockHash(0)``. A node always reports the same one, except Chopsticks after
    ``--resume``, whose ``chain_getBlockHash(0)`` then answers with block 1's hash: every
    signed transaction would fail as ``BadProof``. Where the two differ on a chain past
    its first blocks, the runtime's value is the one that works."""

    _runtime_genesis: str | None = None

    def check_genesis(self) -> None:
        """Compares the node's genesis hash with the runtime's, once per connection."""
        reported = super().get_block_hash(0)
        head = self.get_block_number(self.get_chain_head())
        stored = self.query("System", "BlockHash", [0]).value
        if head >= 2 and stored and stored != reported:
            log.warning("the node reports genesis %s but the runtime checks %s; signing with "
                        "the runtime's", reported, stored)
            self._runtime_genesis = stored

    def get_block_hash(self, block_id: int | None = None) -> str:
        if block_id == 0 and self._runtime_genesis is not None:
            return self._runtime_genesis
        return super().get_block_hash(block_id)


class ChainClient:
    """A blocking client for one node. Thread-safe: one call at a time per client."""

    def __init__(self, url: str, *, ss58_format: int = 42, timeout: float = 30.0) -> None:
        self.url = url
        self._ss58 = ss58_format
        #: Seconds without a message from the node before a call is given up.
        self.timeout = timeout
        self._substrate: SubstrateInterface | None = None
        self._lock = threading.RLock()

    # -- connection -------------------------------------------------------------------

    def connect(self) -> SubstrateInterface:
        """Connects (or returns the live connection) and loads the runtime metadata."""
        with self._lock:
            if self._substrate is None:
                try:
                    self._substrate = _Substrate(
                        url=self.url, ss58_format=self._ss58, ws_options={"timeout": self.timeout}
                    )
                    self._substrate.init_runtime()
                    self._substrate.check_genesis()
                except (OSError, ConnectionError, SubstrateRequestException) as e:
                    self._substrate = None
                    raise ChainError(f"cannot connect to {self.url}: {e}") from e
                except Exception as e:  # websocket errors come in many types
                    self._substrate = None
                    raise ChainError(f"cannot connect to {self.url}: {e}") from e
            return self._substrate

    def close(self) -> None:
        """Closes the connection; the next call reconnects."""
        with self._lock:
            if self._substrate is not None:
                try:
                    self._substrate.close()
                finally:
                    self._substrate = None

    def _call(self, fn: Callable[[SubstrateInterface], T]) -> T:
        with self._lock:
            substrate = self.connect()
            try:
                return fn(substrate)
            except (ChainError, ValueError, TypeError):
                raise
            except SubstrateRequestException as e:
                raise ChainError(str(e)) from e
            except Exception as e:
                # A broken socket leaves substrate-interface unusable: reconnect next time.
                self.close()
                raise ChainError(f"connection to {self.url} failed: {e}") from e

    # -- reading ------------------------------------------------------------------------

    def chain_name(self) -> str:
        """The chain's name (``system_chain``)."""
        return self._call(lambda s: s.rpc_request("system_chain", [])["result"])

    def pallets(self) -> list[str]:
        """Names of the runtime's pallets, from its metadata."""
        return self._call(lambda s: [p.name for p in s.metadata.pallets])

    def best_number(self) -> int:
        """Number of the best block."""
        return self._call(lambda s: s.get_block_number(s.get_chain_head()))

    def block_number(self, block_hash: str) -> int:
        """Number of the block ``block_hash``."""
        return self._call(lambda s: s.get_block_number(block_hash))

    def block_hash(self, number: int | None = None) -> str:
        """Hash of block ``number`` (the best block when ``None``)."""
        return self._call(lambda s: s.get_chain_head() if number is None else s.get_block_hash(number))

    def query(self, pallet: str, item: str, params: list[Any] | None = None, block_hash: str | None = None) -> Any:
        """A storage value as plain Python data (``None`` when absent)."""
        return self._call(
            lambda s: _plain(s.query(pallet, item, params or [], block_hash=block_hash))
        )

    def query_map(self, pallet: str, item: str, params: list[Any] | None = None, block_hash: str | None = None) -> list[tuple[Any, Any]]:
        """All entries of a storage map (under ``params`` prefix keys), as plain data."""

        def run(s: SubstrateInterface) -> list[tuple[Any, Any]]:
            result = s.query_map(pallet, item, params or [], block_hash=block_hash, page_size=200)
            return [(_plain(k), _plain(v)) for k, v in result]

        return self._call(run)

    def constant(self, pallet: str, name: str) -> Any:
        """A runtime constant."""
        return self._call(lambda s: _plain(s.get_constant(pallet, name)))

    def events(self, block_hash: str) -> list[dict[str, Any]]:
        """All events of a block as plain dicts (module_id, event_id, attributes, ...)."""
        return self._call(lambda s: [_plain(e)["event"] | {"phase": _plain(e)["phase"]} for e in s.get_events(block_hash)])

    def free_balance(self, address: str) -> int:
        """Free balance of an account."""
        info = self.query("System", "Account", [address])
        return int(info["data"]["free"])

    def account_nonce(self, address: str) -> int:
        """Next nonce of an account, counting transactions in the pool."""
        return self._call(lambda s: int(s.rpc_request("system_accountNextIndex", [address])["result"]))

    # -- writing ------------------------------------------------------------------------

    def submit(
        self,
        keypair: Keypair,
        pallet: str,
        call: str,
        params: dict[str, Any],
        *,
        nonce: int | None = None,
        sudo: bool = False,
        attempts: int = 3,
    ) -> Receipt:
        """Signs, submits and waits for inclusion; raises :class:`ExtrinsicFailed` with the
        pallet's error name and documentation when dispatch fails.

        A transaction that is not included in time (a node may drop it, for example from a
        block that a session rotation filled) is looked for in the recent blocks and, if
        it is not there, sent again with the same nonce, so it is included at most once."""
        signed = self._call(lambda s: self._sign(s, keypair, pallet, call, params, nonce, sudo))
        for attempt in range(attempts):
            try:
                receipt = self._call(lambda s: self._submit_and_wait(s, signed))
                break
            except InclusionTimeout:
                found = self._find_included(signed.extrinsic_hash)
                if found is not None:
                    receipt = found
                    break
                log.warning("%s.%s not included in time (attempt %d); sending again",
                            pallet, call, attempt + 1)
        else:
            raise ChainError(f"{pallet}.{call} was not included after {attempts} attempts")
        return self._call(lambda s: self._check(s, receipt, sudo))

    @staticmethod
    def _sign(s: SubstrateInterface, keypair: Keypair, pallet: str, call: str,
              params: dict[str, Any], nonce: int | None, sudo: bool) -> Any:
        inner = s.compose_call(call_module=pallet, call_function=call, call_params=params)
        outer = (
            s.compose_call(call_module="Sudo", call_function="sudo", call_params={"call": inner})
            if sudo
            else inner
        )
        return s.create_signed_extrinsic(call=outer, keypair=keypair, nonce=nonce)

    def _submit_and_wait(self, s: SubstrateInterface, xt: Any) -> Any:
        try:
            return s.submit_extrinsic(xt, wait_for_inclusion=True)
        except SubstrateRequestException as e:
            raise TransactionRejected(_rpc_error_text(e)) from e
        except ValueError as e:  # dropped from the pool
            raise TransactionRejected(str(e)) from e
        except WebSocketTimeoutException as e:
            self.close()  # the subscription is in an unknown state
            raise InclusionTimeout() from e

    def _find_included(self, extrinsic_hash: bytes, depth: int = 30) -> Any | None:
        """The receipt of an extrinsic in one of the last ``depth`` blocks, if it is there."""
        want = "0x" + extrinsic_hash.hex()

        def run(s: SubstrateInterface) -> Any | None:
            head = s.get_block_number(s.get_chain_head())
            for n in range(head, max(0, head - depth), -1):
                block_hash = s.get_block_hash(n)
                block = s.get_block(block_hash=block_hash)
                for xt in block["extrinsics"]:
                    if xt.extrinsic_hash is not None and "0x" + xt.extrinsic_hash.hex() == want:
                        return s.retrieve_extrinsic_by_hash(block_hash, want)
            return None

        return self._call(run)

    @staticmethod
    def _check(s: SubstrateInterface, r: Any, sudo: bool) -> Receipt:
        events = [_plain(e)["event"] for e in r.triggered_events]
        receipt = Receipt(
            extrinsic_hash=r.extrinsic_hash,
            block_hash=r.block_hash,
            block_number=s.get_block_number(r.block_hash),
            events=events,
            fee=int(r.total_fee_amount or 0),
        )
        failed = [e["attributes"] for e in events
                  if e["module_id"] == "System" and e["event_id"] == "ExtrinsicFailed"]
        if failed:
            raise _dispatch_error(_decode_module_error(s, failed[0]["dispatch_error"]))
        if sudo:
            for attrs in receipt.events_of("Sudo", "Sudid"):
                result = attrs.get("sudo_result", attrs)
                if isinstance(result, dict) and "Err" in result:
                    raise _dispatch_error(_decode_module_error(s, result["Err"]))
        return receipt


class InclusionTimeout(ChainError):
    """No word from the node about a submitted transaction in time."""


def _rpc_error_text(e: SubstrateRequestException) -> str:
    arg = e.args[0] if e.args else e
    if isinstance(arg, dict):
        return f"{arg.get('message', 'rejected')}: {arg.get('data', '')}".strip(": ")
    return str(arg)


def _decode_module_error(s: SubstrateInterface, err: Any) -> dict[str, Any]:
    """A ``DispatchError`` value (from ``ExtrinsicFailed`` or ``Sudid``) as a dict with the
    pallet's name, the error's name and its documentation."""
    if isinstance(err, dict) and "Module" in err:
        m = err["Module"]
        index, error = (m["index"], m["error"]) if isinstance(m, dict) else (m[0], m[1])
        if isinstance(error, str):  # [u8; 4] as hex: the first byte is the error index
            error = int(error.removeprefix("0x")[:2], 16)
        elif isinstance(error, (bytes, list, tuple)):
            error = bytes(error)[0]
        pallet = next((p.name for p in s.metadata.pallets if p["index"] == index), f"pallet#{index}")
        info = s.metadata.get_module_error(module_index=index, error_index=error)
        return {
            "type": "Module",
            "pallet": pallet,
            "name": info.name if info is not None else f"error#{error}",
            "docs": list(info.docs) if info is not None else [],
        }
    if isinstance(err, dict) and len(err) == 1:
        return {"type": "Dispatch", "pallet": "Dispatch", "name": next(iter(err)), "docs": []}
    return {"type": "Dispatch", "pallet": "Dispatch", "name": str(err), "docs": []}


def _dispatch_error(message: dict[str, Any] | None) -> ChainError:
    if not message:
        return ChainError("the extrinsic failed for an unknown reason")
    name = message.get("name", "Unknown")
    docs = " ".join(message.get("docs") or []).strip()
    pallet = message.get("pallet") or message.get("module") or message.get("type", "Dispatch")
    return ExtrinsicFailed(str(pallet), str(name), docs)


class AsyncChain:
    """The chain client for asyncio code.

    Every blocking call runs in a worker thread. Submissions from one account are
    serialised with a locally tracked nonce, so tasks that submit concurrently never reuse
    a nonce; connection failures are retried with exponential backoff.
    """

    def __init__(self, url: str, *, retries: int = 6, backoff: float = 0.5) -> None:
        self.client = ChainClient(url)
        self._retries = retries
        self._backoff = backoff
        self._nonces: dict[str, int] = {}
        self._account_locks: dict[str, asyncio.Lock] = {}

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs ``fn(*args, **kwargs)`` of the blocking client, reconnecting on failure."""
        delay = self._backoff
        for attempt in range(self._retries + 1):
            try:
                return await asyncio.to_thread(fn, *args, **kwargs)
            except (ExtrinsicFailed, TransactionRejected):
                raise
            except ChainError as e:
                if attempt == self._retries or not _is_connection_error(e):
                    raise
                log.warning("chain unreachable (%s); retrying in %.1f s", e, delay)
                self.client.close()
                await asyncio.sleep(delay + random.uniform(0, delay / 4))
                delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")

    async def submit(
        self,
        keypair: Keypair,
        pallet: str,
        call: str,
        params: dict[str, Any],
        *,
        sudo: bool = False,
    ) -> Receipt:
        """Signs and submits with a nonce no other task of this process is using."""
        who = keypair.ss58_address
        lock = self._account_locks.setdefault(who, asyncio.Lock())
        async with lock:
            if who not in self._nonces:
                self._nonces[who] = await self.call(self.client.account_nonce, who)
            nonce = self._nonces[who]
            try:
                receipt = await asyncio.to_thread(
                    self.client.submit, keypair, pallet, call, params, nonce=nonce, sudo=sudo
                )
            except ExtrinsicFailed:
                self._nonces[who] = nonce + 1  # included: the nonce is used
                raise
            except ChainError:
                self._nonces.pop(who, None)  # unknown state: ask the chain next time
                raise
            self._nonces[who] = nonce + 1
            return receipt

    async def close(self) -> None:
        """Closes the connection."""
        await asyncio.to_thread(self.client.close)


def _is_connection_error(e: ChainError) -> bool:
    text = str(e).lower()
    return any(
        word in text
        for word in ("connect", "connection", "closed", "refused", "timed out", "broken pipe", "reset")
    )


# -- the ZKPoT pallet ---------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    """A task's current round, as ``Zkpot.Rounds`` holds it."""

    index: int
    opened_at: int
    commit_end: int
    reveal_end: int
    phase: str  # "Commit" | "Reveal" | "Aggregation" | "Closed"
    turn: int | None
    deadline: int | None
    base_model: str

    @classmethod
    def decode(cls, v: dict[str, Any]) -> Round:
        """From substrate-interface's decoded value."""
        phase = v["phase"]
        name, body = (phase, {}) if isinstance(phase, str) else next(iter(phase.items()))
        body = body or {}
        return cls(
            index=int(v["index"]),
            opened_at=int(v["opened_at"]),
            commit_end=int(v["commit_end"]),
            reveal_end=int(v["reveal_end"]),
            phase=name,
            turn=body.get("turn"),
            deadline=body.get("deadline") or body.get("next_round_at"),
            base_model=str(v["base_model"]),
        )


def _hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return str(value)


class Zkpot:
    """The ZKPoT pallet's storage and calls, for async code."""

    def __init__(self, chain: AsyncChain) -> None:
        self.chain = chain
        self.c = chain.client

    # reads
    async def best_number(self) -> int:
        """Number of the best block."""
        return await self.chain.call(self.c.best_number)

    async def round(self, task: int) -> Round | None:
        """The task's current round."""
        v = await self.chain.call(self.c.query, PALLET, "Rounds", [task])
        return None if v is None else Round.decode(v)

    async def task(self, task: int) -> dict[str, Any] | None:
        """The task's on-chain record."""
        return await self.chain.call(self.c.query, PALLET, "Tasks", [task])

    async def vka(self, task: int) -> bytes | None:
        """The task's VKA words."""
        v = await self.chain.call(self.c.query, PALLET, "TaskVkas", [task])
        return None if v is None else bytes.fromhex(_hex(v).removeprefix("0x"))

    async def worker(self, who: str) -> dict[str, Any] | None:
        """A worker's record."""
        return await self.chain.call(self.c.query, PALLET, "Workers", [who])

    async def commit_record(self, task: int, round: int, who: str) -> dict[str, Any] | None:
        """A worker's commit in a round (``None`` when it has not committed)."""
        return await self.chain.call(self.c.query, PALLET, "Commits", [(task, round), who])

    async def contributions(self, task: int, round: int) -> list[dict[str, Any]]:
        """A round's contributions (one storage entry each), in reveal order."""
        entries = await self.chain.call(self.c.query_map, PALLET, "Contributions", [(task, round)])
        return sorted((v for _, v in entries), key=lambda c: (int(c["revealed_at"]), str(c["who"])))

    async def election(self, task: int, round: int) -> dict[str, Any] | None:
        """A round's election record."""
        return await self.chain.call(self.c.query, PALLET, "Elections", [(task, round)])

    async def endpoint(self, who: str) -> str | None:
        """Where a worker serves its models."""
        v = await self.chain.call(self.c.query, PALLET, "WorkerEndpoints", [who])
        if v is None:
            return None
        if isinstance(v, str) and v.startswith("0x"):
            return bytes.fromhex(v[2:]).decode(errors="replace")
        return str(v)

    async def has_session_keys(self, who: str) -> bool:
        """Whether the account has session keys (can be elected author)."""
        return await self.chain.call(self.c.query, "Session", "NextKeys", [who]) is not None

    async def events(self, block_hash: str) -> list[dict[str, Any]]:
        """The pallet's events in a block."""
        events = await self.chain.call(self.c.events, block_hash)
        return [e for e in events if e.get("module_id") == PALLET]

    # writes
    async def register_worker(self, kp: Keypair) -> Receipt:
        """``register_worker()``."""
        return await self.chain.submit(kp, PALLET, "register_worker", {})

    async def set_endpoint(self, kp: Keypair, url: str) -> Receipt:
        """``set_endpoint(url)``."""
        return await self.chain.submit(kp, PALLET, "set_endpoint", {"endpoint": "0x" + url.encode().hex()})

    async def set_session_keys(self, kp: Keypair, keys: dict[str, str], proof: str) -> Receipt:
        """``session.set_keys(keys, proof)``."""
        return await self.chain.submit(kp, "Session", "set_keys", {"keys": keys, "proof": proof})

    async def commit(
        self, kp: Keypair, task: int, round: int, digest: bytes, ack: str | None = None
    ) -> Receipt:
        """``commit(task, round, digest, ack)``: ``ack`` names the account that served the
        global model this round trains from (checked against its commitment)."""
        return await self.chain.submit(
            kp, PALLET, "commit",
            {"task": task, "round": round, "digest": "0x" + digest.hex(), "ack": ack},
        )

    async def reveal(
        self, kp: Keypair, task: int, round: int, proof: bytes, instances: list[bytes],
        verify_weight: dict[str, int] | None = None,
    ) -> Receipt:
        """``reveal(task, round, proof, instances, verify_weight_bound)``: the bound is the
        task's own verification weight (read from the chain unless given), so the reveal is
        charged for its task, not for the costliest one."""
        if verify_weight is None:
            info = await self.task(task)
            if info is None:
                raise ChainError(f"task {task} is not registered")
            verify_weight = info["verify_weight"]
        return await self.chain.submit(
            kp,
            PALLET,
            "reveal",
            {
                "task": task,
                "round": round,
                "proof": "0x" + proof.hex(),
                # substrate-interface sees BoundedVec<[u8; 32]> as a one-field composite.
                "instances": [["0x" + i.hex() for i in instances]],
                "verify_weight_bound": {"ref_time": int(verify_weight["ref_time"]),
                                        "proof_size": int(verify_weight["proof_size"])},
            },
        )

    async def publish_model(
        self, kp: Keypair, task: int, round: int, uri: str, included: list[str]
    ) -> Receipt:
        """``publish_model(task, round, uri, included)``: where the sum over ``included``
        (a subset of the election's aggregate) is served; the chain computes its
        commitment."""
        return await self.chain.submit(
            kp,
            PALLET,
            "publish_model",
            # substrate-interface sees BoundedVec<AccountId> as a one-field composite.
            {"task": task, "round": round, "uri": "0x" + uri.encode().hex(), "included": [included]},
        )

    async def register_task(
        self,
        sudo: Keypair,
        vka_words: bytes,
        artifacts: dict[str, str],
        layout: dict[str, int],
        min_score: int,
        initial_commitment: str,
        initial_uri: str,
        zero_commitment: str,
        aggregation: dict[str, Any],
        timing: dict[str, int],
    ) -> int:
        """Registers a task through sudo; returns its id."""
        receipt = await self.chain.submit(
            sudo,
            PALLET,
            "register_task",
            {
                "vka": "0x" + vka_words.hex(),
                "artifacts": artifacts,
                "layout": layout,
                "min_score": min_score,
                "initial_model": {
                    "commitment": initial_commitment,
                    "uri": "0x" + initial_uri.encode().hex(),
                },
                "zero_commitment": zero_commitment,
                "aggregation": aggregation,
                "timing": timing,
            },
            sudo=True,
        )
        [event] = receipt.events_of(PALLET, "TaskRegistered")
        return int(event["task"])
