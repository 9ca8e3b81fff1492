"""Secure aggregation over the BN254 scalar field: the aggregator learns only ``s = sum x_i``.

Follows Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine
Learning" (CCS 2017), malicious-server variant, with the sparse neighbour graph of Flower's
SecAgg+ as an option. Each contributor hides its field vector ``x_i`` behind a self mask
``PRG(b_i)`` and pairwise masks ``+-PRG(s_ij)`` that cancel in the sum; Shamir shares of
``b_i`` and of the mask-agreement secret let the survivors unmask the sum when some
contributors vanish, and an honest participant never releases both kinds of share for the
same contributor, so a dropped-or-not decision can never expose a single ``x_i``.

The module is transport-free: participants and the aggregator are explicit state machines
that take and return message objects, validate every message before changing state, and
raise :class:`ProtocolError` (malformed, out of order, unknown, replayed) or
:class:`UnsafeRequestError` (a request an honest participant must refuse because answering
could leak an input). Messages are signed through a ``signer`` hook (the worker's sr25519
account key); without one, the consistency round is only as strong as the transport.

Steps (names as in the paper):

0. ``advertise_keys``: each participant publishes two X25519 public keys, ``c`` (channel
   encryption) and ``s`` (mask agreement), signed. The aggregator broadcasts the roster U1.
1. ``share_keys``: each participant Shamir-shares ``b_i`` and its ``s`` seed (t-of-its
   closed neighbourhood) and sends each neighbour its shares, encrypted with ChaCha20-Poly1305
   under a key from X25519 of the ``c`` keys. The aggregator forwards them (U2).
2. ``masked_input``: ``y_i = x_i + PRG(b_i) + sum_{j>i} PRG(s_ij) - sum_{j<i} PRG(s_ij)``
   over the neighbours ``j`` whose shares ``i`` received (U3 = senders of ``y``).
3. ``consistency``: each survivor signs the survivor set U3, so the aggregator cannot tell
   different participants different survivor sets (U4 = signers).
4. ``unmask``: given ``t`` signatures on U3, each participant sends the ``b`` shares of
   survivors and the ``s`` shares of contributors that dropped after step 1 (U5).

Field elements, secrets and shares: all values are integers modulo ``FIELD_MODULUS``. The
secrets shared are 31-byte random values (248 bits, always below ``p``), so a secret is one
field element and needs no splitting: ``b_i`` is used directly as the PRG seed and the X25519
mask key is derived from the ``s`` seed with HKDF. 248 bits of entropy exceed the 128-bit
security of X25519.

Weighted sums: zkpot's global model is ``s = sum w_i q_i``; a contributor enters
``x_i = w_i * q_i mod p`` (the weights are public), and the protocol's output is ``s``.

Not covered, relative to the paper's malicious-server protocol (deliberately or for later):

* Message authentication. Only ``AdvertiseKeys`` and the consistency signatures go through
  the ``signer``/``verifier`` hooks; ``ShareKeys``, ``MaskedInput`` and ``UnmaskResponse``
  must be signed by the transport (the worker's sr25519 key) over ``encode()``, and the
  aggregator's broadcasts carry no signature of their own (as in the paper). Without a
  verifier the consistency round gives no guarantee against a malicious aggregator, which
  can then forge the ``t`` signatures; the participant still refuses to release both
  shares of one contributor itself.
* Wire parsing: messages have a canonical ``encode()`` (signed, counted) but no ``decode``.
* Robust reconstruction: the aggregator interpolates from the first ``t`` shares by id. A
  wrong ``s`` share is caught (the rebuilt key must match the advertised one); a wrong
  ``b`` share gives a wrong sum, which zkpot catches downstream (every worker checks
  ``C(s)`` against the chain's aggregate commitment) but cannot attribute.
* Parameters: the paper's malicious-server guarantee needs ``t > 2n/3`` with fewer than
  ``n/3`` corrupt parties (and SecAgg+'s graph its own analysis, which this ring-shaped,
  hash-ordered ``k``-regular graph does not claim); :class:`Session` only enforces
  ``2 <= t <= k + 1``.
* In the sparse graph a participant checks survivor and share sets only within its own
  neighbourhood (it sees nothing else), as in SecAgg+.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: BN254 scalar field modulus (the same as ``zkpot.ezkl_ops.FIELD_MODULUS``; repeated here so
#: the protocol core does not import ezkl).
FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617
P = FIELD_MODULUS
#: Bytes of a shared secret: 31 bytes = 248 bits < log2(p), so every secret is a field element.
SECRET_BYTES = 31
#: Largest participant id (ids are Shamir x-coordinates and go on the wire as u32).
MAX_ID = 2**32 - 1
_DOMAIN = b"zkpot-secagg/v1/"
_MASK_254 = (1 << 254) - 1
_NONCE = 12

Vector = tuple[int, ...]
#: ``signer(message) -> signature``: the sender's account key (sr25519 in the worker).
Signer = Callable[[bytes], bytes]
#: ``verifier(participant_id, message, signature) -> bool``.
Verifier = Callable[[int, bytes, bytes], bool]


class SecAggError(ValueError):
    """Base of this module's errors."""


class ProtocolError(SecAggError):
    """A message is malformed, out of order, for another session, from an unknown sender or
    replayed; the receiver's state is unchanged."""


class UnsafeRequestError(SecAggError):
    """An honest participant refuses a request because answering it could reveal an input:
    both shares of one contributor, too few survivors, or a survivor set that differs from
    the one the participant certified. The participant's state is unchanged."""


# --------------------------------------------------------------------------------------
# Field arithmetic and the PRG


def check_vector(values: Sequence[int], length: int) -> Vector:
    """``values`` as a tuple of field elements of the given length; refuses a wrong length,
    a non-int and a value outside ``[0, p)`` (reducing silently would let a sender smuggle
    a different value past a length-and-range check elsewhere)."""
    if len(values) != length:
        raise ProtocolError(f"vector has {len(values)} elements, expected {length}")
    for k, v in enumerate(values):
        if type(v) is not int or not 0 <= v < P:
            raise ProtocolError(f"element {k} is not a field element")
    return tuple(values)


def prg(seed: bytes, length: int, label: bytes) -> Vector:
    """``length`` uniform field elements expanded from a seed with SHAKE-256.

    Unbiased by rejection sampling: each candidate is 32 output bytes read big-endian with
    the top two bits cleared (a uniform 254-bit integer); candidates ``>= p`` are discarded.
    Since ``p > 2**253`` about 76% of candidates are accepted. SHAKE's output is a prefix-
    stable stream, so when the first read runs out a longer read continues the same stream:
    the result depends only on ``(label, seed, length)``."""
    xof = hashlib.shake_256(_DOMAIN + b"prg/" + label + b"/" + seed)
    out: list[int] = []
    want = 32 * _first_read(length)
    pos = 0
    stream = xof.digest(want)
    while len(out) < length:
        if pos + 32 > len(stream):
            want *= 2
            stream = xof.digest(want)
        c = int.from_bytes(stream[pos:pos + 32], "big") & _MASK_254
        pos += 32
        if c < P:
            out.append(c)
    return tuple(out)


def _first_read(length: int) -> int:
    """Candidates read at first: 1.5x the outputs needed against an expected 1.32x, so the
    continuation read is almost never needed for long vectors (a module function so a test
    can force the continuation path)."""
    return length + length // 2 + 8


def self_mask(b: int, length: int) -> Vector:
    """``PRG(b_i)``: the self mask, from the 31-byte secret ``b_i`` (own label, so it can
    never coincide with a pairwise mask)."""
    return prg(b.to_bytes(32, "big"), length, b"self")


def pair_mask(seed: bytes, length: int) -> Vector:
    """``PRG(s_ij)``: the pairwise mask, from the HKDF output ``s_ij``."""
    return prg(seed, length, b"pair")


def add_into(acc: list[int], vec: Sequence[int], sign: int = 1) -> None:
    """``acc += sign * vec`` elementwise, unreduced (reduce once at the end; Python ints)."""
    if sign > 0:
        for k, v in enumerate(vec):
            acc[k] += v
    else:
        for k, v in enumerate(vec):
            acc[k] -= v


# --------------------------------------------------------------------------------------
# Shamir secret sharing over the field


def shamir_share(secret: int, holders: Iterable[int], threshold: int) -> dict[int, int]:
    """Shares of ``secret`` for each holder id (x-coordinate), any ``threshold`` of which
    recover it: a random polynomial of degree ``threshold - 1`` with constant ``secret``."""
    if not 0 <= secret < P:
        raise SecAggError("the secret is not a field element")
    coeffs = [secret] + [secrets.randbelow(P) for _ in range(threshold - 1)]
    shares: dict[int, int] = {}
    for x in holders:
        if not 0 < x < P:
            raise SecAggError("holder ids must be nonzero field elements")
        acc = 0
        for c in reversed(coeffs):
            acc = (acc * x + c) % P
        shares[x] = acc
    return shares


def shamir_reconstruct(shares: Mapping[int, int]) -> int:
    """The constant term of the polynomial through the given ``(id, share)`` points
    (Lagrange at 0). With fewer points than the threshold this returns an unrelated value,
    which is the point of the scheme."""
    if not shares:
        raise SecAggError("no shares to reconstruct from")
    xs = list(shares)
    secret = 0
    for i, xi in enumerate(xs):
        num, den = 1, 1
        for j, xj in enumerate(xs):
            if i != j:
                num = num * xj % P
                den = den * (xj - xi) % P
        secret = (secret + shares[xi] * num * pow(den, -1, P)) % P
    return secret


# --------------------------------------------------------------------------------------
# Keys and key derivation


def _u32(v: int) -> bytes:
    return struct.pack(">I", v)


def _hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


def _raw_public(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def mask_key_from_seed(seed: int) -> X25519PrivateKey:
    """The X25519 mask-agreement key derived from a shared 31-byte seed, so that the seed,
    a field element, is what Shamir shares and what the aggregator reconstructs."""
    raw = _hkdf(seed.to_bytes(SECRET_BYTES, "big"), _DOMAIN + b"s-key")
    return X25519PrivateKey.from_private_bytes(raw)


def _agree(own: X25519PrivateKey, peer_public: bytes) -> bytes:
    return own.exchange(X25519PublicKey.from_public_bytes(peer_public))


def _random_secret() -> int:
    return int.from_bytes(secrets.token_bytes(SECRET_BYTES), "big")


# --------------------------------------------------------------------------------------
# The session and the neighbour graph


@dataclass(frozen=True)
class Session:
    """One aggregation: the task, the training round, the registered participant ids, the
    Shamir threshold ``t`` and the vector length. ``degree`` selects SecAgg+'s sparse graph:
    ``None`` (or ``>= n - 1``) is the complete graph of the paper; an even ``k`` links each
    participant to ``k`` neighbours on a ring ordered by a hash of the session, so masking
    and sharing cost O(k) instead of O(n). The threshold applies within each closed
    neighbourhood (the participant and its neighbours), so ``t <= k + 1``."""

    task: bytes
    round: int
    participants: tuple[int, ...]
    threshold: int
    length: int
    degree: int | None = None
    _graph: dict[int, frozenset[int]] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        ids = self.participants
        if len(set(ids)) != len(ids) or not all(type(i) is int and 0 < i <= MAX_ID for i in ids):
            raise SecAggError("participant ids must be distinct integers in [1, 2^32)")
        if self.length < 1 or not 0 <= self.round < 2**64:
            raise SecAggError("bad vector length or round")
        n = len(ids)
        if self.degree is not None and self.degree < n - 1 and (self.degree < 2 or self.degree % 2):
            raise SecAggError("the neighbour degree must be even and at least 2")
        k = n - 1 if self.degree is None else min(self.degree, n - 1)
        if not 2 <= self.threshold <= k + 1:
            raise SecAggError(f"threshold must be in [2, {k + 1}]")
        self._graph.update(self._build_graph(k))

    @property
    def context(self) -> bytes:
        """Bytes binding a message or key to this (task, round)."""
        return _u32(len(self.task)) + self.task + struct.pack(">Q", self.round)

    def _build_graph(self, k: int) -> dict[int, frozenset[int]]:
        ids = self.participants
        if k >= len(ids) - 1:
            return {i: frozenset(ids) - {i} for i in ids}
        ring = sorted(ids, key=lambda i: hashlib.sha256(_DOMAIN + b"graph" + self.context + _u32(i)).digest())
        n, half = len(ring), k // 2
        return {
            v: frozenset(ring[(pos + d) % n] for d in range(-half, half + 1) if d)
            for pos, v in enumerate(ring)
        }

    def neighbours(self, pid: int) -> frozenset[int]:
        """The participants ``pid`` masks with and shares its secrets with."""
        return self._graph[pid]

    def closed(self, pid: int) -> frozenset[int]:
        """``pid`` and its neighbours: the holders of ``pid``'s shares."""
        return self._graph[pid] | {pid}

    def pair_seed(self, own: X25519PrivateKey, own_id: int, peer_public: bytes, peer_id: int) -> bytes:
        """``s_ij``: HKDF of the X25519 agreement, bound to the session and the sorted pair."""
        lo, hi = sorted((own_id, peer_id))
        info = _DOMAIN + b"pairwise" + self.context + _u32(lo) + _u32(hi)
        return _hkdf(_agree(own, peer_public), info)

    def channel_key(self, own: X25519PrivateKey, own_id: int, peer_public: bytes, peer_id: int) -> bytes:
        """The ChaCha20-Poly1305 key of the pair's share channel."""
        lo, hi = sorted((own_id, peer_id))
        return _hkdf(_agree(own, peer_public), _DOMAIN + b"channel" + self.context + _u32(lo) + _u32(hi))

    def share_ad(self, sender: int, recipient: int) -> bytes:
        """Associated data of an encrypted share: session, direction and step."""
        return _DOMAIN + b"share-keys" + self.context + _u32(sender) + _u32(recipient)


def pair_mask_sign(own_id: int, peer_id: int) -> int:
    """+1 if ``own_id`` adds ``PRG(s_ij)`` (peer has the larger id), -1 if it subtracts."""
    return 1 if peer_id > own_id else -1


# --------------------------------------------------------------------------------------
# Messages. ``encode`` is the canonical byte form: what is signed and what is counted.


def _ids(ids: Iterable[int]) -> bytes:
    ids = sorted(ids)
    return _u32(len(ids)) + b"".join(_u32(i) for i in ids)


def _blob(b: bytes) -> bytes:
    return _u32(len(b)) + b


def _fe(v: int) -> bytes:
    return v.to_bytes(32, "big")


@dataclass(frozen=True)
class AdvertiseKeys:
    """Step 0, participant -> aggregator: the two public keys, signed."""

    task: bytes
    round: int
    sender: int
    c_public: bytes
    s_public: bytes
    signature: bytes = b""

    def signed_part(self) -> bytes:
        """What the sender's account key signs."""
        return (_DOMAIN + b"advertise" + _u32(len(self.task)) + self.task + struct.pack(">Q", self.round)
                + _u32(self.sender) + self.c_public + self.s_public)

    def encode(self) -> bytes:
        """Wire form."""
        return self.signed_part() + _blob(self.signature)


@dataclass(frozen=True)
class Roster:
    """Step 0, aggregator -> participant: every advertisement it accepted (U1)."""

    task: bytes
    round: int
    keys: Mapping[int, AdvertiseKeys]

    def encode(self) -> bytes:
        """Wire form."""
        return _blob(self.task) + struct.pack(">Q", self.round) + b"".join(
            self.keys[i].encode() for i in sorted(self.keys))


@dataclass(frozen=True)
class ShareKeys:
    """Step 1, participant -> aggregator: encrypted shares, one ciphertext per neighbour."""

    task: bytes
    round: int
    sender: int
    ciphertexts: Mapping[int, bytes]

    def encode(self) -> bytes:
        """Wire form."""
        return _blob(self.task) + struct.pack(">Q", self.round) + _u32(self.sender) + b"".join(
            _u32(r) + _blob(self.ciphertexts[r]) for r in sorted(self.ciphertexts))


@dataclass(frozen=True)
class ForwardedShares:
    """Step 1, aggregator -> participant: the ciphertexts addressed to ``recipient`` (U2)."""

    task: bytes
    round: int
    recipient: int
    ciphertexts: Mapping[int, bytes]

    def encode(self) -> bytes:
        """Wire form."""
        return _blob(self.task) + struct.pack(">Q", self.round) + _u32(self.recipient) + b"".join(
            _u32(s) + _blob(self.ciphertexts[s]) for s in sorted(self.ciphertexts))


@dataclass(frozen=True)
class MaskedInput:
    """Step 2, participant -> aggregator: ``y_i``."""

    task: bytes
    round: int
    sender: int
    values: Vector

    def encode(self) -> bytes:
        """Wire form."""
        return (_blob(self.task) + struct.pack(">Q", self.round) + _u32(self.sender)
                + _u32(len(self.values)) + b"".join(_fe(v) for v in self.values))


def consistency_message(session: Session, survivors: Iterable[int]) -> bytes:
    """What a participant signs in step 3: the session and the survivor set U3."""
    return _DOMAIN + b"consistency" + session.context + _ids(survivors)


@dataclass(frozen=True)
class ConsistencyRequest:
    """Step 3, aggregator -> participant: the survivor set U3 (senders of masked input)."""

    task: bytes
    round: int
    survivors: frozenset[int]

    def encode(self) -> bytes:
        """Wire form."""
        return _blob(self.task) + struct.pack(">Q", self.round) + _ids(self.survivors)


@dataclass(frozen=True)
class ConsistencySignature:
    """Step 3, participant -> aggregator: its signature on U3."""

    task: bytes
    round: int
    sender: int
    signature: bytes

    def encode(self) -> bytes:
        """Wire form."""
        return _blob(self.task) + struct.pack(">Q", self.round) + _u32(self.sender) + _blob(self.signature)


@dataclass(frozen=True)
class UnmaskRequest:
    """Step 4, aggregator -> participant: the survivors (whose ``b`` shares are wanted), the
    dropped (whose ``s`` shares are wanted) and at least ``t`` signatures on the survivors."""

    task: bytes
    round: int
    survivors: frozenset[int]
    dropped: frozenset[int]
    signatures: Mapping[int, bytes]

    def encode(self) -> bytes:
        """Wire form."""
        return (_blob(self.task) + struct.pack(">Q", self.round) + _ids(self.survivors) + _ids(self.dropped)
                + b"".join(_u32(i) + _blob(self.signatures[i]) for i in sorted(self.signatures)))


@dataclass(frozen=True)
class UnmaskResponse:
    """Step 4, participant -> aggregator: shares of ``b_v`` and of the ``s`` seeds."""

    task: bytes
    round: int
    sender: int
    b_shares: Mapping[int, int]
    s_shares: Mapping[int, int]

    def encode(self) -> bytes:
        """Wire form."""
        return (_blob(self.task) + struct.pack(">Q", self.round) + _u32(self.sender)
                + _u32(len(self.b_shares)) + b"".join(_u32(v) + _fe(self.b_shares[v]) for v in sorted(self.b_shares))
                + _u32(len(self.s_shares)) + b"".join(_u32(v) + _fe(self.s_shares[v]) for v in sorted(self.s_shares)))


_PLAIN = struct.Struct(">II32s32s")


def _check_session(session: Session, msg: object) -> None:
    if getattr(msg, "task", None) != session.task or getattr(msg, "round", None) != session.round:
        raise ProtocolError("message for another task or round")


# --------------------------------------------------------------------------------------
# The participant


class Step(enum.IntEnum):
    """Where a state machine is; each method is valid in exactly one step."""

    ADVERTISE = 0
    SHARE_KEYS = 1
    MASKED_INPUT = 2
    CONSISTENCY = 3
    UNMASK = 4
    DONE = 5


class Participant:
    """One contributor's side of the protocol. Each method validates the aggregator's message
    completely before changing any state, so a refused message can be followed by a good
    one."""

    def __init__(self, session: Session, pid: int, values: Sequence[int],
                 signer: Signer | None = None, verifier: Verifier | None = None) -> None:
        if pid not in session.participants:
            raise SecAggError(f"{pid} is not a participant of the session")
        self.session = session
        self.id = pid
        self._x = check_vector(values, session.length)
        self._signer = signer
        self._verifier = verifier
        self._c_key = X25519PrivateKey.generate()
        self._s_seed = _random_secret()
        self._s_key = mask_key_from_seed(self._s_seed)
        self._b = _random_secret()
        self.step = Step.ADVERTISE
        self._own_ad: AdvertiseKeys | None = None
        self._roster: dict[int, AdvertiseKeys] = {}
        self._held: dict[int, tuple[int, int]] = {}  # v -> (b share, s share) held for v
        self._mask_peers: frozenset[int] = frozenset()
        self._certified: frozenset[int] | None = None
        self._released_b: set[int] = set()
        self._released_s: set[int] = set()

    def _sign(self, message: bytes) -> bytes:
        return self._signer(message) if self._signer else b""

    def _verify(self, pid: int, message: bytes, signature: bytes) -> bool:
        return self._verifier(pid, message, signature) if self._verifier else True

    def _expect(self, step: Step) -> None:
        if self.step != step:
            raise ProtocolError(f"participant {self.id} is at step {self.step.name}, not {step.name}")

    # step 0
    def advertise_keys(self) -> AdvertiseKeys:
        """The two public keys, signed by the account key."""
        self._expect(Step.ADVERTISE)
        msg = AdvertiseKeys(self.session.task, self.session.round, self.id,
                            _raw_public(self._c_key), _raw_public(self._s_key))
        msg = AdvertiseKeys(msg.task, msg.round, msg.sender, msg.c_public, msg.s_public,
                            self._sign(msg.signed_part()))
        self.step = Step.SHARE_KEYS
        self._own_ad = msg
        return msg

    # step 1
    def share_keys(self, roster: Roster) -> ShareKeys:
        """Checks the roster (signatures, own keys unchanged, distinct keys, enough
        neighbours) and encrypts shares of ``b`` and of the ``s`` seed for each neighbour."""
        self._expect(Step.SHARE_KEYS)
        s = self.session
        _check_session(s, roster)
        keys = dict(roster.keys)
        for pid, ad in keys.items():
            if pid not in s.participants or ad.sender != pid:
                raise ProtocolError(f"roster names unknown participant {pid}")
            _check_session(s, ad)
            if len(ad.c_public) != 32 or len(ad.s_public) != 32:
                raise ProtocolError(f"participant {pid}: keys must be 32 bytes")
            if not self._verify(pid, ad.signed_part(), ad.signature):
                raise ProtocolError(f"participant {pid}: bad signature on its keys")
        if keys.get(self.id) != self._own_ad:
            raise ProtocolError("the roster does not carry this participant's own keys")
        all_keys = [k for ad in keys.values() for k in (ad.c_public, ad.s_public)]
        if len(set(all_keys)) != len(all_keys):
            raise ProtocolError("the roster repeats a public key")
        holders = s.closed(self.id) & keys.keys()
        if len(holders) < s.threshold:
            raise UnsafeRequestError(f"only {len(holders)} of this participant's neighbourhood advertised keys")
        b_sh = shamir_share(self._b, sorted(holders), s.threshold)
        s_sh = shamir_share(self._s_seed, sorted(holders), s.threshold)
        out: dict[int, bytes] = {}
        for r in sorted(holders - {self.id}):
            key = s.channel_key(self._c_key, self.id, keys[r].c_public, r)
            nonce = secrets.token_bytes(_NONCE)
            pt = _PLAIN.pack(self.id, r, _fe(b_sh[r]), _fe(s_sh[r]))
            out[r] = nonce + ChaCha20Poly1305(key).encrypt(nonce, pt, s.share_ad(self.id, r))
        self._roster = keys
        self._held[self.id] = (b_sh[self.id], s_sh[self.id])
        self.step = Step.MASKED_INPUT
        return ShareKeys(s.task, s.round, self.id, out)

    # step 2
    def masked_input(self, forwarded: ForwardedShares) -> MaskedInput:
        """Decrypts the neighbours' shares (U2) and returns ``y = x + PRG(b) +- PRG(s_ij)``
        over exactly those neighbours."""
        self._expect(Step.MASKED_INPUT)
        s = self.session
        _check_session(s, forwarded)
        if forwarded.recipient != self.id:
            raise ProtocolError("shares forwarded to the wrong participant")
        senders = set(forwarded.ciphertexts)
        if not senders <= (s.neighbours(self.id) & self._roster.keys()):
            raise ProtocolError("shares from a sender that is not a neighbour in the roster")
        if len(senders) + 1 < s.threshold:
            raise UnsafeRequestError(f"only {len(senders)} neighbours shared keys")
        held: dict[int, tuple[int, int]] = {}
        for v, blob in forwarded.ciphertexts.items():
            held[v] = self._open_share(v, blob)
        acc = list(self._x)
        add_into(acc, self_mask(self._b, s.length))
        for v in sorted(senders):
            seed = s.pair_seed(self._s_key, self.id, self._roster[v].s_public, v)
            add_into(acc, pair_mask(seed, s.length), pair_mask_sign(self.id, v))
        self._held.update(held)
        self._mask_peers = frozenset(senders)
        self.step = Step.CONSISTENCY
        return MaskedInput(s.task, s.round, self.id, tuple(a % P for a in acc))

    def _open_share(self, sender: int, blob: bytes) -> tuple[int, int]:
        s = self.session
        if len(blob) != _NONCE + _PLAIN.size + 16:
            raise ProtocolError(f"share from {sender} has the wrong length")
        key = s.channel_key(self._c_key, self.id, self._roster[sender].c_public, sender)
        try:
            pt = ChaCha20Poly1305(key).decrypt(blob[:_NONCE], blob[_NONCE:], s.share_ad(sender, self.id))
        except InvalidTag as e:
            raise ProtocolError(f"share from {sender} does not authenticate") from e
        frm, to, b_raw, s_raw = _PLAIN.unpack(pt)
        b_share, s_share = int.from_bytes(b_raw, "big"), int.from_bytes(s_raw, "big")
        if frm != sender or to != self.id or b_share >= P or s_share >= P:
            raise ProtocolError(f"share from {sender} is not addressed as expected")
        return b_share, s_share

    # step 3
    def consistency(self, request: ConsistencyRequest) -> ConsistencySignature:
        """Signs the survivor set U3, once: a second, different set is refused, which is what
        stops the aggregator from telling different participants different stories."""
        s = self.session
        _check_session(s, request)
        survivors = frozenset(request.survivors)
        if self.step == Step.UNMASK and survivors == self._certified:
            return ConsistencySignature(s.task, s.round, self.id, self._sign(consistency_message(s, survivors)))
        if self.step == Step.UNMASK:
            raise UnsafeRequestError("already certified a different survivor set")
        self._expect(Step.CONSISTENCY)
        self._check_survivors(survivors)
        self._certified = survivors
        self.step = Step.UNMASK
        return ConsistencySignature(s.task, s.round, self.id, self._sign(consistency_message(s, survivors)))

    def _check_survivors(self, survivors: frozenset[int]) -> None:
        s = self.session
        if not survivors <= set(s.participants):
            raise ProtocolError("survivor set names unknown participants")
        if self.id not in survivors:
            raise UnsafeRequestError("this participant sent its masked input but is not a survivor")
        if len(survivors) < s.threshold or len(survivors & s.closed(self.id)) < s.threshold:
            raise UnsafeRequestError("fewer survivors than the threshold")
        if not (survivors & s.neighbours(self.id)) <= self._mask_peers:
            raise UnsafeRequestError("a survivor never shared keys with this participant")

    # step 4
    def unmask(self, request: UnmaskRequest) -> UnmaskResponse:
        """``b`` shares of survivors and ``s`` shares of the dropped, after checking that the
        survivor set is the certified one with ``t`` valid signatures and that no contributor
        would ever get both kinds of share from this participant."""
        s = self.session
        _check_session(s, request)
        if self.step not in (Step.UNMASK, Step.DONE):
            raise ProtocolError(f"participant {self.id} is at step {self.step.name}, not UNMASK")
        survivors, dropped = frozenset(request.survivors), frozenset(request.dropped)
        if survivors != self._certified:
            raise UnsafeRequestError("survivor set differs from the one this participant certified")
        if survivors & dropped:
            raise UnsafeRequestError("a participant is named both survivor and dropped")
        if not dropped <= set(s.participants):
            raise ProtocolError("dropped set names unknown participants")
        good = {v for v, sig in request.signatures.items()
                if v in survivors and self._verify(v, consistency_message(s, survivors), sig)}
        if len(good) < s.threshold or len(good) != len(request.signatures):
            raise UnsafeRequestError("fewer than t valid signatures on the survivor set")
        want_b = survivors & self._held.keys()
        want_s = (dropped & self._held.keys()) - {self.id}
        if want_b & self._released_s or want_s & self._released_b:
            raise UnsafeRequestError("answering would reveal both shares of one participant")
        self._released_b |= want_b
        self._released_s |= want_s
        self.step = Step.DONE
        return UnmaskResponse(s.task, s.round, self.id,
                              {v: self._held[v][0] for v in sorted(want_b)},
                              {v: self._held[v][1] for v in sorted(want_s)})


# --------------------------------------------------------------------------------------
# The aggregator


@dataclass(frozen=True)
class AggregateResult:
    """``values = sum_{i in included} x_i mod p`` and the included participants (U3)."""

    values: Vector
    included: tuple[int, ...]


class Aggregator:
    """The server's side. It collects each step's messages (validating each before recording
    it), closes a step by producing the next broadcast, and finally reconstructs the sum.
    ``view`` records every message it accepted: everything a curious server sees."""

    def __init__(self, session: Session, verifier: Verifier | None = None) -> None:
        self.session = session
        self._verifier = verifier
        self.step = Step.ADVERTISE
        self.view: list[object] = []
        self._keys: dict[int, AdvertiseKeys] = {}
        self._shares: dict[int, ShareKeys] = {}
        self._mask_peers: dict[int, frozenset[int]] = {}
        self._masked: dict[int, MaskedInput] = {}
        self._sigs: dict[int, bytes] = {}
        self._responses: dict[int, UnmaskResponse] = {}
        self._survivors: frozenset[int] = frozenset()
        self._dropped: frozenset[int] = frozenset()

    def _accept(self, step: Step, msg: object, sender: int, allowed: Iterable[int],
                seen: Mapping[int, object]) -> None:
        if self.step != step:
            raise ProtocolError(f"aggregator is at step {self.step.name}, not {step.name}")
        _check_session(self.session, msg)
        if sender not in set(allowed):
            raise ProtocolError(f"unknown or unexpected sender {sender}")
        if sender in seen:
            raise ProtocolError(f"replayed message from {sender}")

    def _close(self, got: Mapping[int, object], what: str) -> None:
        if len(got) < self.session.threshold:
            raise UnsafeRequestError(f"only {len(got)} {what}, fewer than the threshold")

    # step 0
    def receive_keys(self, msg: AdvertiseKeys) -> None:
        """Records one participant's advertised keys."""
        self._accept(Step.ADVERTISE, msg, msg.sender, self.session.participants, self._keys)
        if len(msg.c_public) != 32 or len(msg.s_public) != 32:
            raise ProtocolError("keys must be 32 bytes")
        if self._verifier and not self._verifier(msg.sender, msg.signed_part(), msg.signature):
            raise ProtocolError(f"bad signature from {msg.sender}")
        self._keys[msg.sender] = msg
        self.view.append(msg)

    def roster(self) -> Roster:
        """Closes step 0: the roster U1 to broadcast."""
        self._close(self._keys, "advertisements")
        if self.step == Step.ADVERTISE:
            self.step = Step.SHARE_KEYS
        return Roster(self.session.task, self.session.round, dict(self._keys))

    def roster_for(self, pid: int) -> Roster:
        """Closes step 0 like :meth:`roster`, but only the keys ``pid`` needs (its closed
        neighbourhood): with a sparse graph this is O(k) instead of O(n) bytes."""
        full = self.roster()
        return Roster(full.task, full.round, {v: ad for v, ad in full.keys.items()
                                              if v in self.session.closed(pid)})

    # step 1
    def receive_shares(self, msg: ShareKeys) -> None:
        """Records one participant's encrypted shares (addressed to its neighbours)."""
        self._accept(Step.SHARE_KEYS, msg, msg.sender, self._keys, self._shares)
        if not set(msg.ciphertexts) <= self.session.neighbours(msg.sender) & self._keys.keys():
            raise ProtocolError(f"shares from {msg.sender} addressed outside its neighbourhood")
        self._shares[msg.sender] = msg
        self.view.append(msg)

    def forward_shares(self) -> dict[int, ForwardedShares]:
        """Closes step 1: for each participant in U2, the ciphertexts addressed to it."""
        self._close(self._shares, "share messages")
        s = self.session
        out: dict[int, ForwardedShares] = {}
        for r in sorted(self._shares):
            cts = {v: m.ciphertexts[r] for v, m in self._shares.items() if r in m.ciphertexts}
            out[r] = ForwardedShares(s.task, s.round, r, cts)
            self._mask_peers[r] = frozenset(cts)
        self.step = Step.MASKED_INPUT
        return out

    # step 2
    def receive_masked(self, msg: MaskedInput) -> None:
        """Records one masked input after checking its length and range."""
        self._accept(Step.MASKED_INPUT, msg, msg.sender, self._shares, self._masked)
        check_vector(msg.values, self.session.length)
        self._masked[msg.sender] = msg
        self.view.append(msg)

    def consistency_request(self) -> ConsistencyRequest:
        """Closes step 2: the survivor set U3 to send to every survivor."""
        self._close(self._masked, "masked inputs")
        self._survivors = frozenset(self._masked)
        self._dropped = frozenset(self._shares) - self._survivors
        self.step = Step.CONSISTENCY
        return ConsistencyRequest(self.session.task, self.session.round, self._survivors)

    # step 3
    def receive_consistency(self, msg: ConsistencySignature) -> None:
        """Records one survivor's signature on U3."""
        self._accept(Step.CONSISTENCY, msg, msg.sender, self._survivors, self._sigs)
        if self._verifier and not self._verifier(
                msg.sender, consistency_message(self.session, self._survivors), msg.signature):
            raise ProtocolError(f"bad consistency signature from {msg.sender}")
        self._sigs[msg.sender] = msg.signature
        self.view.append(msg)

    def unmask_request(self) -> UnmaskRequest:
        """Closes step 3: the unmasking request with the survivors, the dropped and U4's
        signatures."""
        self._close(self._sigs, "consistency signatures")
        self.step = Step.UNMASK
        s = self.session
        return UnmaskRequest(s.task, s.round, self._survivors, self._dropped, dict(self._sigs))

    # step 4
    def receive_unmask(self, msg: UnmaskResponse) -> None:
        """Records one participant's shares after checking they are the ones asked for."""
        self._accept(Step.UNMASK, msg, msg.sender, self._sigs, self._responses)
        if not set(msg.b_shares) <= self._survivors or not set(msg.s_shares) <= self._dropped:
            raise ProtocolError(f"unmasking response from {msg.sender} has unrequested shares")
        for v in (*msg.b_shares.values(), *msg.s_shares.values()):
            if type(v) is not int or not 0 <= v < P:
                raise ProtocolError(f"unmasking response from {msg.sender} has a non-field share")
        self._responses[msg.sender] = msg
        self.view.append(msg)

    def finish(self) -> AggregateResult:
        """Reconstructs each survivor's ``b`` and each dropped participant's ``s`` seed from
        ``t`` shares and removes the masks: ``sum_{U3} y - PRG(b) -+ PRG(s_uv)``."""
        if self.step != Step.UNMASK:
            raise ProtocolError(f"aggregator is at step {self.step.name}, not UNMASK")
        self._close(self._responses, "unmasking responses")
        s = self.session
        acc = [0] * s.length
        for u in sorted(self._survivors):
            add_into(acc, self._masked[u].values)
            b = self._reconstruct(u, "b")
            add_into(acc, self_mask(b, s.length), -1)
        for v in sorted(self._dropped):
            key = mask_key_from_seed(self._reconstruct(v, "s"))
            if _raw_public(key) != self._keys[v].s_public:
                raise ProtocolError(f"the s shares of {v} do not reconstruct its advertised key")
            for u in sorted(self._survivors):
                if v in self._mask_peers.get(u, ()):
                    seed = s.pair_seed(key, v, self._keys[u].s_public, u)
                    add_into(acc, pair_mask(seed, s.length), -pair_mask_sign(u, v))
        self.step = Step.DONE
        return AggregateResult(tuple(a % P for a in acc), tuple(sorted(self._survivors)))

    def _reconstruct(self, v: int, kind: str) -> int:
        got = {r: (m.b_shares if kind == "b" else m.s_shares).get(v) for r, m in self._responses.items()}
        got = {r: sh for r, sh in got.items() if sh is not None and r in self.session.closed(v)}
        if len(got) < self.session.threshold:
            raise UnsafeRequestError(f"only {len(got)} {kind} shares of {v}, fewer than the threshold")
        chosen = dict(sorted(got.items())[: self.session.threshold])
        secret = shamir_reconstruct(chosen)
        if secret >> (8 * SECRET_BYTES):
            raise ProtocolError(f"the {kind} shares of {v} do not reconstruct a {SECRET_BYTES}-byte secret")
        return secret


# --------------------------------------------------------------------------------------
# A whole session in one process (tests and benchmarks)


def run_session(session: Session, inputs: Mapping[int, Sequence[int]],
                drop_before: Mapping[int, Step] | None = None,
                signers: Mapping[int, Signer] | None = None,
                verifier: Verifier | None = None) -> tuple[AggregateResult, Aggregator, dict[int, Participant]]:
    """Runs all steps in-process. ``drop_before[i] = step`` makes participant ``i`` vanish
    before it would send its message of that step (never to return)."""
    drop_before = dict(drop_before or {})
    signers = signers or {}
    parts = {i: Participant(session, i, inputs[i], signers.get(i), verifier) for i in session.participants}
    agg = Aggregator(session, verifier)

    def alive(i: int, step: Step) -> bool:
        return i not in drop_before or drop_before[i] > step

    for i, p in parts.items():
        if alive(i, Step.ADVERTISE):
            agg.receive_keys(p.advertise_keys())
    roster = agg.roster()
    for i in sorted(roster.keys):
        if alive(i, Step.SHARE_KEYS):
            agg.receive_shares(parts[i].share_keys(roster))
    for i, fwd in agg.forward_shares().items():
        if alive(i, Step.MASKED_INPUT):
            agg.receive_masked(parts[i].masked_input(fwd))
    req = agg.consistency_request()
    for i in sorted(req.survivors):
        if alive(i, Step.CONSISTENCY):
            agg.receive_consistency(parts[i].consistency(req))
    unmask = agg.unmask_request()
    for i in sorted(unmask.signatures):
        if alive(i, Step.UNMASK):
            agg.receive_unmask(parts[i].unmask(unmask))
    return agg.finish(), agg, parts
