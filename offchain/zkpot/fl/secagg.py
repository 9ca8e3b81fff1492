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
could leak an input). Every message has a canonical, self-describing ``encode()`` (type tag,
version byte) and a strict inverse, :func:`decode` (or ``Type.decode``), so the messages
can be carried over any byte transport. Every message a participant sends is signed through
a ``signer`` hook (the worker's sr25519 account key) and verified by the aggregator and the
participants through a ``verifier`` hook; without them, authentication is only as strong as
the transport.

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

* Message authentication is optional and end to end only for participant messages:
  ``AdvertiseKeys``, ``ShareKeys``, ``MaskedInput`` and ``UnmaskResponse`` carry the
  sender's signature over ``signed_part()`` (the encoding without the signature, behind the
  protocol's domain), and ``ConsistencySignature`` is itself a signature on the session and
  U3; the aggregator checks them when it has a ``verifier``. The aggregator's broadcasts
  carry no signature of their own (as in the paper): participants check the signatures
  inside them (advertisements, consistency signatures), and a forwarded share authenticates
  its sender through the AEAD channel key derived from the signed advertisements. Without a verifier the consistency round gives no guarantee against a
  malicious aggregator, which can then forge the ``t`` signatures; the participant still
  refuses to release both shares of one contributor itself. A signature does not stop the
  aggregator (or a network attacker) from replaying a message into the same session; the
  state machines refuse replays by sender, and task and round bind it to one session.
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
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: BN254 scalar field modulus (the same as ``zkpot.proof.ezkl_ops.FIELD_MODULUS``; repeated here so
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
        if len(self.task) > MAX_TASK_BYTES or len(ids) > MAX_PARTICIPANTS:
            raise SecAggError("task id or participant count beyond the wire format's bounds")
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
# Messages. ``encode`` is the canonical byte form: what is signed, what is counted and what
# goes on the wire; ``decode`` is its strict inverse.
#
# Wire form of every message: ``tag (u8) || WIRE_VERSION (u8) || body`` and, for a message
# a participant sends, ``|| u32 len || signature``. Integers are big-endian (u32 ids and
# counts, u64 round), field elements 32 bytes and ``< p``, public keys 32 raw bytes, id
# lists and id-keyed maps strictly increasing (so the encoding of a message is unique). A
# participant's signature covers ``signed_part() = _DOMAIN || tag || version || body``: the
# wire form without the signature, prefixed with this protocol's domain so the account key's
# signature cannot be replayed into another protocol.

#: Version byte after the tag; a decoder refuses any other.
WIRE_VERSION = 1
#: Bounds that apply when ``decode`` is given no session (with one, counts are bounded by the
#: number of participants and a vector's length must equal ``session.length``).
MAX_TASK_BYTES = 256
MAX_SIGNATURE_BYTES = 128
MAX_PARTICIPANTS = 1 << 16
MAX_VECTOR_LENGTH = 1 << 24
#: A share ciphertext: nonce, ``_PLAIN`` (two u32 ids, two field elements) and the tag.
CIPHERTEXT_BYTES = 12 + 72 + 16
KEY_BYTES = 32


def _ids(ids: Iterable[int]) -> bytes:
    ids = sorted(ids)
    return _u32(len(ids)) + b"".join(_u32(i) for i in ids)


def _blob(b: bytes) -> bytes:
    return _u32(len(b)) + b


def _fe(v: int) -> bytes:
    if type(v) is not int or not 0 <= v < P:
        raise ProtocolError("cannot encode a value that is not a field element")
    return v.to_bytes(32, "big")


def _key(k: bytes) -> bytes:
    if len(k) != KEY_BYTES:
        raise ProtocolError(f"public keys must be {KEY_BYTES} bytes")
    return bytes(k)


def _ctx(task: bytes, round: int) -> bytes:
    if len(task) > MAX_TASK_BYTES:
        raise ProtocolError(f"task id longer than {MAX_TASK_BYTES} bytes")
    return _blob(task) + struct.pack(">Q", round)


@dataclass(frozen=True)
class _Limits:
    ids: int
    length: int | None  # exact vector length, or None for "at most MAX_VECTOR_LENGTH"


class _Reader:
    """A cursor over one encoding; every read is bounds-checked and every count is checked
    against its limit and against the bytes left before anything is allocated."""

    def __init__(self, data: bytes, what: str) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ProtocolError("a message must be decoded from bytes")
        self.data = bytes(data)
        self.pos = 0
        self.what = what

    def fail(self, why: str) -> ProtocolError:
        return ProtocolError(f"{self.what}: {why}")

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.pos:
            raise self.fail(f"truncated at byte {self.pos} (wanted {n} more)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack(">Q", self.take(8))[0]

    def count(self, limit: int, item: int, name: str) -> int:
        n = self.u32()
        if n > limit:
            raise self.fail(f"{name} count {n} exceeds the bound {limit}")
        if n * item > len(self.data) - self.pos:
            raise self.fail(f"truncated: {n} {name} do not fit in the bytes left")
        return n

    def blob(self, limit: int, name: str, exact: int | None = None) -> bytes:
        n = self.u32()
        if exact is not None and n != exact:
            raise self.fail(f"{name} is {n} bytes, expected {exact}")
        if n > limit:
            raise self.fail(f"{name} of {n} bytes exceeds the bound {limit}")
        return self.take(n)

    def fe(self) -> int:
        v = int.from_bytes(self.take(32), "big")
        if v >= P:
            raise self.fail("value is not a field element (>= p)")
        return v

    def pid(self, after: int) -> int:
        i = self.u32()
        if i == 0:
            raise self.fail("participant id 0")
        if i <= after:
            raise self.fail("ids are not strictly increasing")
        return i

    def ids(self, lim: _Limits, name: str) -> frozenset[int]:
        out, last = [], 0
        for _ in range(self.count(lim.ids, 4, name)):
            last = self.pid(last)
            out.append(last)
        return frozenset(out)

    def ctx(self) -> tuple[bytes, int]:
        return self.blob(MAX_TASK_BYTES, "task"), self.u64()

    def sig(self) -> bytes:
        return self.blob(MAX_SIGNATURE_BYTES, "signature")

    def end(self) -> None:
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos} trailing bytes")


class _Wire:
    """Shared wire logic: ``TAG`` identifies the type, ``_body`` is the unsigned body,
    ``_read`` parses it back; ``SIGNED`` types append the signature."""

    TAG: ClassVar[int]
    SIGNED: ClassVar[bool] = False

    def _body(self) -> bytes:
        raise NotImplementedError

    def _header(self) -> bytes:
        return bytes((self.TAG, WIRE_VERSION))

    def signed_part(self) -> bytes:
        """What the sender's account key signs: the encoding without the signature, with
        the protocol's domain in front."""
        return _DOMAIN + self._header() + self._body()

    def encode(self) -> bytes:
        """Wire form."""
        out = self._header() + self._body()
        if self.SIGNED:
            sig = self.signature  # type: ignore[attr-defined]
            if len(sig) > MAX_SIGNATURE_BYTES:
                raise ProtocolError(f"signature longer than {MAX_SIGNATURE_BYTES} bytes")
            out += _blob(sig)
        return out

    @classmethod
    def _read(cls, r: _Reader, lim: _Limits) -> _Wire:
        raise NotImplementedError

    @classmethod
    def decode(cls, data: bytes, session: Session | None = None) -> Any:
        """Strict inverse of :meth:`encode` for this type (the tag must be this type's).
        With ``session``, counts are bounded by its participants and vectors must have its
        length; without, by the module's ``MAX_*`` constants. Raises :class:`ProtocolError`."""
        msg = decode(data, session)
        if not isinstance(msg, cls):
            raise ProtocolError(f"expected a {cls.__name__}, got a {type(msg).__name__}")
        return msg


@dataclass(frozen=True)
class AdvertiseKeys(_Wire):
    """Step 0, participant -> aggregator: the two public keys, signed."""

    TAG: ClassVar[int] = 1
    SIGNED: ClassVar[bool] = True
    task: bytes
    round: int
    sender: int
    c_public: bytes
    s_public: bytes
    signature: bytes = b""

    def _body(self) -> bytes:
        return _ctx(self.task, self.round) + _u32(self.sender) + _key(self.c_public) + _key(self.s_public)

    @classmethod
    def _read(cls, r: _Reader, lim: _Limits) -> AdvertiseKeys:
        task, rnd = r.ctx()
        return cls(task, rnd, r.pid(0), r.take(KEY_BYTES), r.take(KEY_BYTES), r.sig())


@dataclass(frozen=True)
class Roster(_Wire):
    """Step 0, aggregator -> participant: every advertisement it accepted (U1)."""

    TAG: ClassVar[int] = 2
    task: bytes
    round: int
    keys: Mapping[int, AdvertiseKeys]

    def _body(self) -> bytes:
        for i, ad in self.keys.items():
            if ad.sender != i:
                raise ProtocolError(f"roster entry {i} carries the keys of {ad.sender}")
        return _ctx(self.task, self.round) + _u32(len(self.keys)) + b"".join(
            _blob(self.keys[i].encode()) for i in sorted(self.keys))

    @classmethod
    def _read(cls, r: _Reader, lim: _Limits) -> Roster:
        task, rnd = r.ctx()
        keys: dict[int, AdvertiseKeys] = {}
        last = 0
        min_ad = 2 + 4 + 8 + 4 + 2 * KEY_BYTES + 4
        for _ in range(r.count(lim.ids, 4 + min_ad, "roster entries")):
            raw = r.blob(min_ad + MAX_TASK_BYTES + MAX_SIGNATURE_BYTES, "advertisement")
            if raw[:1] != bytes((AdvertiseKeys.TAG,)):
                raise r.fail("roster entry is not an advertisement")
            ad = _decode(raw, lim, "roster entry")
            if ad.sender <= last:
                raise r.fail("ids are not strictly increasing")
            last = ad.sender
            keys[ad.sender] = ad
        return cls(task, rnd, keys)


def _read_ciphertexts(r: _Reader, lim: _Limits) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    last = 0
    for _ in range(r.count(lim.ids, 8 + CIPHERTEXT_BYTES, "ciphertexts")):
        last = r.pid(last)
        out[last] = r.blob(CIPHERTEXT_BYTES, "ciphertext", exact=CIPHERTEXT_BYTES)
    return out


def _write_map(m: Mapping[int, bytes]) -> bytes:
    return _u32(len(m)) + b"".join(_u32(i) + _blob(m[i]) for i in sorted(m))


@dataclass(frozen=True)
class ShareKeys(_Wire):
    """Step 1, participant -> aggregator: encrypted shares, one ciphertext per neighbour,
    signed."""

    TAG: ClassVar[int] = 3
    SIGNED: ClassVar[bool] = True
    task: bytes
    round: int
    sender: int
    ciphertexts: Mapping[int, bytes]
    signature: bytes = b""

    def _body(self) -> bytes:
        return _ctx(self.task, self.round) + _u32(self.sender) + _write_map(self.ciphertexts)

    @classmethod
    def _read(cls, r: _Reader, lim: _Limits) -> ShareKeys:
        task, rnd = r.ctx()
        return cls(task, rnd, r.pid(0), _read_ciphertexts(r, lim), r.sig())


@dataclass(frozen=True)
class ForwardedShares(_Wire):
    """Step 1, aggregator -> participant: the ciphertexts addressed to ``recipient`` (U2)."""

    TAG: ClassVar[int] = 4
    task: bytes
    round: int
    recipient: int
    ciphertexts: Mapping[int, bytes]

    def _body(self) -> bytes:
        return _ctx(self.task, self.round) + _u32(self.recipient) + _write_map(self.ciphertexts)

    @classmethod
    def _read(cls, r: _Reader, lim: _Limits) -> ForwardedShares:
        task, rnd = r.ctx()
        return cls(task, rnd, r.pid(0), _read_ciphertexts(r, lim))


@dataclass(frozen=True)
class MaskedInput(_Wire):
    """Step 2, participant -> aggregator: ``y_i``, signed."""

    TAG: ClassVar[int] = 5
    SIGNED: ClassVar[bool] = True
    task: bytes
    round: int
    sender: int
    values: Vector
    signature: bytes = b""

    def _body(self) -> bytes:
        return (_ctx(self.task, self.round) + _u32(self.sender)
                + _u32(len(self.values)) + b"".join(_fe(v) for v in self.values))

    @classmethod
    def _read(cls, r: _Reader, lim: _Limits) -> MaskedInput:
        task, rnd = r.ctx()
        sender = r.pid(0)
        n = r.count(MAX_VECTOR_LENGTH if lim.length is None else lim.length, 32, "vector elements")
        if lim.length is not None and n != lim.length:
            raise r.fail(f"vector has {n} elements, expected {lim.length}")
        return cls(task, rnd, sender, tuple(r.fe() for _ in range(n)), r.sig())


def consistency_message(session: Session, survivors: Iterable[int]) -> bytes:
    """What a participant signs in step 3: the session and the survivor set U3."""
    return _DOMAIN + b"consistency" + session.context + _ids(survivors)


@dataclass(frozen=True)
class ConsistencyRequest(_Wire):
    """Step 3, aggregator -> participant: the survivor set U3 (senders of masked input)."""

    TAG: ClassVar[int] = 6
    task: bytes
    round: int
    survivors: frozenset[int]

    def _body(self) -> bytes:
        return _ctx(self.task, self.round) + _ids(self.survivors)

    @classmethod
    def _read(cls, r: _Reader, lim: _Limits) -> ConsistencyRequest:
        task, rnd = r.ctx()
        return cls(task, rnd, r.ids(lim, "survivors"))


@dataclass(frozen=True)
class ConsistencySignature(_Wire):
    """Step 3, participant -> aggregator: its signature on U3. The signature is over
    :func:`consistency_message` (session and U3), which already authenticates the sender, so
    this message carries no second signature over its own encoding."""

    TAG: ClassVar[int] = 7
    task: bytes
    round: int
    sender: int
    signature: bytes

    def _body(self) -> bytes:
        if len(self.signature) > MAX_SIGNATURE_BYTES:
            raise ProtocolError(f"signature longer than {MAX_SIGNATURE_BYTES} bytes")
        return _ctx(self.task, self.round) + _u32(self.sender) + _blob(self.signature)

    @classmethod
    def _read(cls, r: _Reader, lim: _Limits) -> ConsistencySignature:
        task, rnd = r.ctx()
        return cls(task, rnd, r.pid(0), r.sig())


@dataclass(frozen=True)
class UnmaskRequest(_Wire):
    """Step 4, aggregator -> participant: the survivors (whose ``b`` shares are wanted), the
    dropped (whose ``s`` shares are wanted) and at least ``t`` signatures on the survivors."""

    TAG: ClassVar[int] = 8
    task: bytes
    round: int
    survivors: frozenset[int]
    dropped: frozenset[int]
    signatures: Mapping[int, bytes]

    def _body(self) -> bytes:
        if any(len(s) > MAX_SIGNATURE_BYTES for s in self.signatures.values()):
            raise ProtocolError(f"signature longer than {MAX_SIGNATURE_BYTES} bytes")
        return (_ctx(self.task, self.round) + _ids(self.survivors) + _ids(self.dropped)
                + _write_map(self.signatures))

    @classmethod
    def _read(cls, r: _Reader, lim: _Limits) -> UnmaskRequest:
        task, rnd = r.ctx()
        survivors, dropped = r.ids(lim, "survivors"), r.ids(lim, "dropped")
        sigs: dict[int, bytes] = {}
        last = 0
        for _ in range(r.count(lim.ids, 8, "signatures")):
            last = r.pid(last)
            sigs[last] = r.sig()
        return cls(task, rnd, survivors, dropped, sigs)


@dataclass(frozen=True)
class UnmaskResponse(_Wire):
    """Step 4, participant -> aggregator: shares of ``b_v`` and of the ``s`` seeds, signed."""

    TAG: ClassVar[int] = 9
    SIGNED: ClassVar[bool] = True
    task: bytes
    round: int
    sender: int
    b_shares: Mapping[int, int]
    s_shares: Mapping[int, int]
    signature: bytes = b""

    def _body(self) -> bytes:
        return (_ctx(self.task, self.round) + _u32(self.sender)
                + _u32(len(self.b_shares)) + b"".join(_u32(v) + _fe(self.b_shares[v]) for v in sorted(self.b_shares))
                + _u32(len(self.s_shares)) + b"".join(_u32(v) + _fe(self.s_shares[v]) for v in sorted(self.s_shares)))

    @classmethod
    def _read(cls, r: _Reader, lim: _Limits) -> UnmaskResponse:
        task, rnd = r.ctx()
        sender = r.pid(0)
        maps: list[dict[int, int]] = []
        for name in ("b shares", "s shares"):
            m: dict[int, int] = {}
            last = 0
            for _ in range(r.count(lim.ids, 36, name)):
                last = r.pid(last)
                m[last] = r.fe()
            maps.append(m)
        return cls(task, rnd, sender, maps[0], maps[1], r.sig())


Message = (AdvertiseKeys | Roster | ShareKeys | ForwardedShares | MaskedInput | ConsistencyRequest
           | ConsistencySignature | UnmaskRequest | UnmaskResponse)
_TYPES: dict[int, type[_Wire]] = {c.TAG: c for c in (
    AdvertiseKeys, Roster, ShareKeys, ForwardedShares, MaskedInput, ConsistencyRequest,
    ConsistencySignature, UnmaskRequest, UnmaskResponse)}


def _decode(data: bytes, lim: _Limits, what: str = "message") -> Any:
    r = _Reader(data, what)
    tag, version = r.take(1)[0], r.take(1)[0]
    cls = _TYPES.get(tag)
    if cls is None:
        raise r.fail(f"unknown message tag {tag}")
    if version != WIRE_VERSION:
        raise r.fail(f"unsupported wire version {version}")
    r.what = f"{what} ({cls.__name__})"
    msg = cls._read(r, lim)
    r.end()
    return msg


def decode(data: bytes, session: Session | None = None) -> Message:
    """Parses any message from its :meth:`encode` form, strictly: known tag and version,
    exact lengths, no trailing bytes, counts within bounds (``session``'s participant count
    and vector length when given, else the ``MAX_*`` constants), field elements ``< p``, ids
    nonzero and strictly increasing, 32-byte public keys, ``CIPHERTEXT_BYTES``-byte share
    ciphertexts. Any failure is one :class:`ProtocolError`. It checks form only: session,
    sender and signature are checked by the receiving state machine."""
    if session is None:
        lim = _Limits(MAX_PARTICIPANTS, None)
    else:
        lim = _Limits(len(session.participants), session.length)
    return _decode(data, lim)


_PLAIN = struct.Struct(">II32s32s")
assert CIPHERTEXT_BYTES == _NONCE + _PLAIN.size + 16


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

    def _signed(self, msg: Any) -> Any:
        """``msg`` with its ``signature`` over :meth:`signed_part` (empty without a signer)."""
        return replace(msg, signature=self._sign(msg.signed_part()))

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
        msg = self._signed(msg)
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
        return self._signed(ShareKeys(s.task, s.round, self.id, out))

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
        return self._signed(MaskedInput(s.task, s.round, self.id, tuple(a % P for a in acc)))

    def _open_share(self, sender: int, blob: bytes) -> tuple[int, int]:
        s = self.session
        if len(blob) != CIPHERTEXT_BYTES:
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
        if self.step in (Step.UNMASK, Step.DONE) and survivors == self._certified:
            return ConsistencySignature(s.task, s.round, self.id, self._sign(consistency_message(s, survivors)))
        if self.step in (Step.UNMASK, Step.DONE):
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
        return self._signed(UnmaskResponse(s.task, s.round, self.id,
                                           {v: self._held[v][0] for v in sorted(want_b)},
                                           {v: self._held[v][1] for v in sorted(want_s)}))


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

    def _check_signature(self, msg: Any) -> None:
        """With a verifier: ``msg.signature`` must be the sender's over ``msg.signed_part()``
        (called after the form checks and before any state change)."""
        if self._verifier and not self._verifier(msg.sender, msg.signed_part(), msg.signature):
            raise ProtocolError(f"bad signature from {msg.sender}")

    def _close(self, got: Mapping[int, object], what: str) -> None:
        if len(got) < self.session.threshold:
            raise UnsafeRequestError(f"only {len(got)} {what}, fewer than the threshold")

    # step 0
    def receive_keys(self, msg: AdvertiseKeys) -> None:
        """Records one participant's advertised keys."""
        self._accept(Step.ADVERTISE, msg, msg.sender, self.session.participants, self._keys)
        if len(msg.c_public) != 32 or len(msg.s_public) != 32:
            raise ProtocolError("keys must be 32 bytes")
        self._check_signature(msg)
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
        for r, ct in msg.ciphertexts.items():
            if type(ct) is not bytes or len(ct) != CIPHERTEXT_BYTES:
                raise ProtocolError(f"share from {msg.sender} for {r} has the wrong length")
        self._check_signature(msg)
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
        self._check_signature(msg)
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
        self._check_signature(msg)
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


def ed25519_accounts(ids: Iterable[int]) -> tuple[dict[int, Signer], Verifier]:
    """Fresh Ed25519 keys standing in for the workers' sr25519 account keys (same signature
    size) in tests and benchmarks: a signer per participant and one verifier."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    keys = {i: Ed25519PrivateKey.generate() for i in ids}
    pubs = {i: k.public_key() for i, k in keys.items()}

    def verify(pid: int, msg: bytes, sig: bytes) -> bool:
        try:
            pubs[pid].verify(sig, msg)
        except (InvalidSignature, KeyError):
            return False
        return True

    return {i: k.sign for i, k in keys.items()}, verify


def run_session(session: Session, inputs: Mapping[int, Sequence[int]],
                drop_before: Mapping[int, Step] | None = None,
                signers: Mapping[int, Signer] | None = None,
                verifier: Verifier | None = None,
                wire: bool = False) -> tuple[AggregateResult, Aggregator, dict[int, Participant]]:
    """Runs all steps in-process. ``drop_before[i] = step`` makes participant ``i`` vanish
    before it would send its message of that step (never to return). With ``wire``, every
    message in either direction goes through ``decode(encode(m), session)`` on its way, as it
    would over a transport."""
    drop_before = dict(drop_before or {})

    def w(msg: Any) -> Any:
        return type(msg).decode(msg.encode(), session) if wire else msg

    signers = signers or {}
    parts = {i: Participant(session, i, inputs[i], signers.get(i), verifier) for i in session.participants}
    agg = Aggregator(session, verifier)

    def alive(i: int, step: Step) -> bool:
        return i not in drop_before or drop_before[i] > step

    for i, p in parts.items():
        if alive(i, Step.ADVERTISE):
            agg.receive_keys(w(p.advertise_keys()))
    roster = agg.roster()
    for i in sorted(roster.keys):
        if alive(i, Step.SHARE_KEYS):
            agg.receive_shares(w(parts[i].share_keys(w(roster))))
    for i, fwd in agg.forward_shares().items():
        if alive(i, Step.MASKED_INPUT):
            agg.receive_masked(w(parts[i].masked_input(w(fwd))))
    req = agg.consistency_request()
    for i in sorted(req.survivors):
        if alive(i, Step.CONSISTENCY):
            agg.receive_consistency(w(parts[i].consistency(w(req))))
    unmask = agg.unmask_request()
    for i in sorted(unmask.signatures):
        if alive(i, Step.UNMASK):
            agg.receive_unmask(w(parts[i].unmask(w(unmask))))
    return agg.finish(), agg, parts
