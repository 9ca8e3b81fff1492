"""Secure aggregation (zkpot.fl.secagg): exact sums under dropouts, refusals of a malicious
aggregator, rejection of bad messages with state unchanged, and the PRG's reduction."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import random
import secrets

import pytest
from zkpot.fl import secagg as sa
from zkpot.fl.secagg import (
    Aggregator,
    ConsistencyRequest,
    MaskedInput,
    P,
    Participant,
    ProtocolError,
    Session,
    Step,
    UnmaskRequest,
    UnsafeRequestError,
)

L = 12


def _inputs(session: Session, seed: int = 0) -> dict[int, tuple[int, ...]]:
    rnd = random.Random(seed)
    return {i: tuple(rnd.randrange(P) for _ in range(session.length)) for i in session.participants}


def _sum(xs: dict[int, tuple[int, ...]], ids: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sum(xs[i][k] for i in ids) % P for k in range(len(next(iter(xs.values())))))




def test_field_modulus_is_the_projects() -> None:
    ezkl_ops = pytest.importorskip("zkpot.proof.ezkl_ops")
    assert ezkl_ops.FIELD_MODULUS == P


# ---------------------------------------------------------------- exact recovery


CASES = [
    ({}, "no dropouts"),
    ({3: Step.ADVERTISE}, "one before advertising"),
    ({3: Step.SHARE_KEYS}, "one after advertising keys"),
    ({3: Step.MASKED_INPUT}, "one after sharing keys"),
    ({3: Step.CONSISTENCY}, "one after its masked input"),
    ({3: Step.UNMASK}, "one after the consistency signature"),
    ({2: Step.MASKED_INPUT, 5: Step.MASKED_INPUT}, "n - t after sharing keys"),
    ({2: Step.MASKED_INPUT, 5: Step.CONSISTENCY}, "n - t at different steps"),
    ({1: Step.SHARE_KEYS, 6: Step.UNMASK}, "n - t, before sharing and after masking"),
]


@pytest.mark.parametrize(("drops", "why"), CASES, ids=[c[1] for c in CASES])
def test_sum_is_exact_under_dropouts(drops: dict, why: str) -> None:
    session = Session(b"task-A", 7, (1, 2, 3, 4, 5, 6), threshold=4, length=L)
    xs = _inputs(session)
    signers, verify = sa.ed25519_accounts(session.participants)
    result, _, _ = sa.run_session(session, xs, drops, signers, verify)
    masked_senders = tuple(i for i in session.participants
                           if i not in drops or drops[i] > Step.MASKED_INPUT)
    assert result.included == masked_senders
    assert result.values == _sum(xs, result.included)


def test_sparse_neighbour_graph_with_dropouts() -> None:
    session = Session(b"task-B", 1, tuple(range(10, 18)), threshold=3, length=L, degree=4)
    assert all(len(session.neighbours(i)) == 4 for i in session.participants)
    assert all(i in session.neighbours(j) for i in session.participants for j in session.neighbours(i))
    xs = _inputs(session, 1)
    drops = {11: Step.MASKED_INPUT, 14: Step.UNMASK}
    result, _, _ = sa.run_session(session, xs, drops)
    assert 11 not in result.included and 14 in result.included
    assert result.values == _sum(xs, result.included)


def test_too_many_dropouts_fail_loudly() -> None:
    session = Session(b"t", 1, (1, 2, 3, 4), threshold=3, length=L)
    with pytest.raises(UnsafeRequestError):
        sa.run_session(session, _inputs(session), {1: Step.MASKED_INPUT, 2: Step.MASKED_INPUT})


# ---------------------------------------------------------------- a malicious aggregator


def _to_consistency(session: Session, xs: dict, signers: dict, verify: sa.Verifier,
                    withhold: int | None = None) -> tuple[Aggregator, dict[int, Participant], dict]:
    """Runs steps 0-2. If ``withhold`` is given, the aggregator receives that participant's
    masked input but records it only on the side (it claims the participant dropped)."""
    parts = {i: Participant(session, i, xs[i], signers[i], verify) for i in session.participants}
    agg = Aggregator(session, verify)
    for p in parts.values():
        agg.receive_keys(p.advertise_keys())
    roster = agg.roster()
    for p in parts.values():
        agg.receive_shares(p.share_keys(roster))
    side: dict[int, MaskedInput] = {}
    for i, fwd in agg.forward_shares().items():
        y = parts[i].masked_input(fwd)
        if i == withhold:
            side[i] = y
        else:
            agg.receive_masked(y)
    return agg, parts, side


def _certify(agg: Aggregator, parts: dict) -> tuple[ConsistencyRequest, UnmaskRequest]:
    """Runs the consistency round honestly; returns its request and the unmask request."""
    req = agg.consistency_request()
    for i in sorted(req.survivors):
        agg.receive_consistency(parts[i].consistency(req))
    return req, agg.unmask_request()


def test_honest_participants_refuse_a_survivor_set_other_than_the_certified_one() -> None:
    session = Session(b"task-C", 3, (1, 2, 3, 4, 5), threshold=3, length=L)
    xs = _inputs(session, 2)
    signers, verify = sa.ed25519_accounts(session.participants)
    agg, parts, _ = _to_consistency(session, xs, signers, verify)
    req, honest = _certify(agg, parts)
    # The aggregator now claims 5 dropped after it received 5's masked input, and asks for
    # its s-shares, with signatures on the reduced set it cannot get from honest signers.
    forged = UnmaskRequest(session.task, session.round, honest.survivors - {5}, frozenset({5}),
                           {i: s for i, s in honest.signatures.items() if i != 5})
    for i in (1, 2, 3, 4):
        with pytest.raises(UnsafeRequestError, match="certified"):
            parts[i].unmask(forged)
    # A second consistency request with the reduced set is refused too (each signs once).
    with pytest.raises(UnsafeRequestError, match="different survivor set"):
        parts[1].consistency(ConsistencyRequest(session.task, session.round, req.survivors - {5}))
    # Nothing was released by the refusals: the honest request still works and the sum is right.
    for i in sorted(honest.signatures):
        resp = parts[i].unmask(honest)
        assert 5 in resp.b_shares and not resp.s_shares
        agg.receive_unmask(resp)
    assert agg.finish().values == _sum(xs, session.participants)


def test_honest_participant_never_releases_both_shares_of_one_contributor() -> None:
    session = Session(b"task-D", 3, (1, 2, 3, 4, 5), threshold=3, length=L)
    xs = _inputs(session, 3)
    signers, verify = sa.ed25519_accounts(session.participants)
    agg, parts, _ = _to_consistency(session, xs, signers, verify)
    req, honest = _certify(agg, parts)
    first = parts[1].unmask(honest)
    assert 5 in first.b_shares
    # Same certified survivors, but 5 also named dropped: would reveal 5's s-share as well.
    both = UnmaskRequest(session.task, session.round, honest.survivors, frozenset({5}), honest.signatures)
    with pytest.raises(UnsafeRequestError):
        parts[1].unmask(both)
    # Too few signatures, or signatures that do not verify, are refused as well.
    few = UnmaskRequest(session.task, session.round, honest.survivors, frozenset(),
                        dict(list(honest.signatures.items())[:2]))
    with pytest.raises(UnsafeRequestError, match="signatures"):
        parts[2].unmask(few)
    bad = UnmaskRequest(session.task, session.round, honest.survivors, frozenset(),
                        {i: b"\0" * 64 for i in honest.signatures})
    with pytest.raises(UnsafeRequestError, match="signatures"):
        parts[2].unmask(bad)
    # The same request again is answered identically (a resend on a lossy link is safe).
    assert parts[1].unmask(honest) == first


def test_aggregator_view_cannot_yield_an_input_it_pretended_was_dropped() -> None:
    """The aggregator receives 5's masked input, then claims 5 dropped after key agreement.
    Everything it ever received (its view plus the withheld y_5) holds t or more s-shares of
    5 but no b-share of 5, so it can strip 5's pairwise masks but y_5 minus them is still
    x_5 + PRG(b_5), and t - 1 of any shares reconstruct nothing."""
    session = Session(b"task-E", 9, (1, 2, 3, 4, 5), threshold=3, length=L)
    xs = _inputs(session, 4)
    signers, verify = sa.ed25519_accounts(session.participants)
    agg, parts, side = _to_consistency(session, xs, signers, verify, withhold=5)
    req = agg.consistency_request()
    assert 5 not in req.survivors
    for i in req.survivors:
        agg.receive_consistency(parts[i].consistency(req))
    unmask = agg.unmask_request()
    assert unmask.dropped == {5}
    for i in sorted(unmask.signatures):
        agg.receive_unmask(parts[i].unmask(unmask))
    result = agg.finish()
    assert result.included == (1, 2, 3, 4) and result.values == _sum(xs, (1, 2, 3, 4))

    responses = [m for m in agg.view if isinstance(m, sa.UnmaskResponse)]
    b_of_5 = {m.sender: m.b_shares[5] for m in responses if 5 in m.b_shares}
    s_of_5 = {m.sender: m.s_shares[5] for m in responses if 5 in m.s_shares}
    assert b_of_5 == {} and len(s_of_5) >= session.threshold
    # Survivors' b-shares only, no s-shares of survivors at all.
    for m in responses:
        assert set(m.b_shares) <= req.survivors and set(m.s_shares) <= {5}

    # The best the aggregator can do: rebuild 5's mask key and remove 5's pairwise masks.
    s5 = sa.mask_key_from_seed(sa.shamir_reconstruct(s_of_5))
    keys = {m.sender: m for m in agg.view if isinstance(m, sa.AdvertiseKeys)}
    acc = list(side[5].values)
    for u in session.neighbours(5):
        seed = session.pair_seed(s5, 5, keys[u].s_public, u)
        sa.add_into(acc, sa.pair_mask(seed, L), -sa.pair_mask_sign(5, u))
    guess = tuple(a % P for a in acc)
    assert guess != xs[5]
    # What remains is exactly the self mask, which needs b_5 (never released).
    self_mask = sa.self_mask(parts[5]._b, L)
    assert guess == tuple((x + m) % P for x, m in zip(xs[5], self_mask, strict=True))
    # And the encrypted b-shares of 5 it forwarded do not open without a c-key: t - 1 shares
    # (what a coalition of t - 1 would add) do not reconstruct b_5.
    b_shares_held = {i: parts[i]._held[5][0] for i in (1, 2)}
    assert sa.shamir_reconstruct(b_shares_held) != parts[5]._b


# ---------------------------------------------------------------- bad input, state unchanged


def _snapshot(obj: object) -> dict:
    return copy.deepcopy({k: v for k, v in vars(obj).items() if not k.startswith("_verifier")
                          and not k.startswith("_signer") and k not in ("_c_key", "_s_key")})


@pytest.fixture
def at_masked_input() -> tuple[Session, Aggregator, dict[int, Participant], dict]:
    session = Session(b"task-F", 2, (1, 2, 3, 4), threshold=3, length=L)
    xs = _inputs(session, 5)
    parts = {i: Participant(session, i, xs[i]) for i in session.participants}
    agg = Aggregator(session)
    for p in parts.values():
        agg.receive_keys(p.advertise_keys())
    roster = agg.roster()
    for p in parts.values():
        agg.receive_shares(p.share_keys(roster))
    fwd = agg.forward_shares()
    ys = {i: parts[i].masked_input(fwd[i]) for i in (1, 2, 3, 4)}
    agg.receive_masked(ys[1])
    return session, agg, parts, ys


def _bad(y: MaskedInput, **kw: object) -> MaskedInput:
    d = dict(task=y.task, round=y.round, sender=y.sender, values=y.values)
    d.update(kw)
    return MaskedInput(**d)


BAD = {
    "wrong length": (lambda y: _bad(y, values=y.values[:-1]), ProtocolError, "elements"),
    "out of field": (lambda y: _bad(y, values=(P,) + y.values[1:]), ProtocolError, "field element"),
    "negative": (lambda y: _bad(y, values=(-1,) + y.values[1:]), ProtocolError, "field element"),
    "wrong round": (lambda y: _bad(y, round=y.round + 1), ProtocolError, "round"),
    "wrong task": (lambda y: _bad(y, task=b"other"), ProtocolError, "task"),
    "unknown sender": (lambda y: _bad(y, sender=99), ProtocolError, "unknown"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_aggregator_rejects_bad_masked_input_state_unchanged(at_masked_input: tuple, case: str) -> None:
    _, agg, _, ys = at_masked_input
    make, err, match = BAD[case]
    before = _snapshot(agg)
    with pytest.raises(err, match=match):
        agg.receive_masked(make(ys[2]))
    assert _snapshot(agg) == before
    agg.receive_masked(ys[2])  # the good message is still accepted


def test_aggregator_rejects_replay_state_unchanged(at_masked_input: tuple) -> None:
    _, agg, _, ys = at_masked_input
    before = _snapshot(agg)
    with pytest.raises(ProtocolError, match="replayed"):
        agg.receive_masked(ys[1])
    assert _snapshot(agg) == before


def test_below_threshold_survivors_refused(at_masked_input: tuple) -> None:
    session, agg, parts, ys = at_masked_input
    agg.receive_masked(ys[2])  # 2 of 4, t = 3
    before = _snapshot(agg)
    with pytest.raises(UnsafeRequestError, match="threshold"):
        agg.consistency_request()
    assert _snapshot(agg) == before
    # A participant refuses a survivor set below the threshold, state unchanged.
    p_before = _snapshot(parts[1])
    with pytest.raises(UnsafeRequestError, match="threshold"):
        parts[1].consistency(ConsistencyRequest(session.task, session.round, frozenset({1, 2})))
    assert _snapshot(parts[1]) == p_before
    parts[1].consistency(ConsistencyRequest(session.task, session.round, frozenset({1, 2, 3})))


def test_messages_out_of_step_are_refused(at_masked_input: tuple) -> None:
    session, agg, parts, ys = at_masked_input
    with pytest.raises(ProtocolError, match="step"):
        agg.receive_keys(parts[1]._own_ad)
    with pytest.raises(ProtocolError, match="step"):
        parts[1].advertise_keys()
    with pytest.raises(ProtocolError, match="step"):
        parts[1].unmask(UnmaskRequest(session.task, session.round, frozenset(), frozenset(), {}))


def test_participant_rejects_tampered_or_misrouted_shares() -> None:
    session = Session(b"task-G", 1, (1, 2, 3, 4), threshold=3, length=L)
    xs = _inputs(session, 6)
    parts = {i: Participant(session, i, xs[i]) for i in session.participants}
    agg = Aggregator(session)
    for p in parts.values():
        agg.receive_keys(p.advertise_keys())
    roster = agg.roster()
    wrong_round = sa.Roster(session.task, session.round + 1, roster.keys)
    with pytest.raises(ProtocolError, match="round"):
        parts[1].share_keys(wrong_round)
    swapped = dict(roster.keys)
    swapped[1] = sa.AdvertiseKeys(session.task, session.round, 1, secrets.token_bytes(32), secrets.token_bytes(32))
    with pytest.raises(ProtocolError, match="own keys"):
        parts[1].share_keys(sa.Roster(session.task, session.round, swapped))
    for p in parts.values():
        agg.receive_shares(p.share_keys(roster))
    fwd = agg.forward_shares()
    f1 = fwd[1]
    before = _snapshot(parts[1])
    flipped = dict(f1.ciphertexts)
    flipped[2] = flipped[2][:-1] + bytes([flipped[2][-1] ^ 1])
    with pytest.raises(ProtocolError, match="authenticate"):
        parts[1].masked_input(sa.ForwardedShares(f1.task, f1.round, 1, flipped))
    # 3's share for 1 presented as if from 2: the associated data binds the sender.
    moved = dict(f1.ciphertexts)
    moved[2] = f1.ciphertexts[3]
    with pytest.raises(ProtocolError, match="authenticate"):
        parts[1].masked_input(sa.ForwardedShares(f1.task, f1.round, 1, moved))
    with pytest.raises(ProtocolError, match="not a neighbour"):
        parts[1].masked_input(sa.ForwardedShares(f1.task, f1.round, 1, {**f1.ciphertexts, 99: b"x"}))
    with pytest.raises(ProtocolError, match="wrong participant"):
        parts[1].masked_input(fwd[2])
    assert _snapshot(parts[1]) == before
    parts[1].masked_input(f1)


def test_unsigned_or_forged_keys_are_refused() -> None:
    session = Session(b"task-H", 1, (1, 2, 3), threshold=2, length=L)
    signers, verify = sa.ed25519_accounts(session.participants)
    p1 = Participant(session, 1, (0,) * L, signers[1], verify)
    p2 = Participant(session, 2, (0,) * L, None, verify)  # does not sign
    agg = Aggregator(session, verify)
    agg.receive_keys(p1.advertise_keys())
    with pytest.raises(ProtocolError, match="signature"):
        agg.receive_keys(p2.advertise_keys())


# ---------------------------------------------------------------- PRG and Shamir


def test_prg_is_deterministic_and_prefix_stable() -> None:
    seed = b"\x01" * 32
    a = sa.prg(seed, 500, b"pair")
    assert a == sa.prg(seed, 500, b"pair") == sa.pair_mask(seed, 500)
    assert sa.prg(seed, 100, b"pair") == a[:100]
    assert sa.prg(b"\x02" * 32, 500, b"pair") != a
    assert sa.prg(seed, 500, b"self") != a
    assert all(0 <= v < P for v in a)


def test_prg_rejects_rather_than_reduces() -> None:
    """The output is exactly the in-range 254-bit candidates of the SHAKE-256 stream, in
    order: candidates >= p are skipped, never reduced (reducing would favour small values)."""
    seed = b"\x07" * 32
    n = 400
    stream = hashlib.shake_256(b"zkpot-secagg/v1/prg/pair/" + seed).digest(32 * 4 * n)
    cands = [int.from_bytes(stream[k:k + 32], "big") & ((1 << 254) - 1) for k in range(0, len(stream), 32)]
    accepted = [c for c in cands if c < P][:n]
    assert sa.prg(seed, n, b"pair") == tuple(accepted)
    rejected = [c for c in cands[:len(cands) // 4] if c >= P]
    assert rejected, "some candidates must have been rejected for this test to mean anything"
    # Uniformity sanity: about (p - 2^253)/p ~ 34% of outputs have bit 253 set.
    big = sa.prg(b"\x09" * 32, 4000, b"pair")
    frac = sum(v >> 253 for v in big) / len(big)
    assert 0.30 < frac < 0.38


def test_shamir_threshold() -> None:
    secret = secrets.randbelow(2**248)
    shares = sa.shamir_share(secret, [3, 5, 8, 11, 20], 3)
    for pick in ([3, 5, 8], [5, 11, 20], [3, 8, 11, 20]):
        assert sa.shamir_reconstruct({x: shares[x] for x in pick}) == secret
    assert sa.shamir_reconstruct({x: shares[x] for x in (3, 5)}) != secret


def test_session_validation() -> None:
    with pytest.raises(sa.SecAggError):
        Session(b"t", 1, (1, 2, 2), threshold=2, length=L)
    with pytest.raises(sa.SecAggError):
        Session(b"t", 1, (1, 2, 3), threshold=4, length=L)
    with pytest.raises(sa.SecAggError):
        Session(b"t", 1, tuple(range(1, 10)), threshold=3, length=L, degree=3)
    with pytest.raises(sa.SecAggError):
        Session(b"t", 1, tuple(range(1, 10)), threshold=6, length=L, degree=4)
    with pytest.raises(ProtocolError):
        Participant(Session(b"t", 1, (1, 2, 3), threshold=2, length=3), 1, (0, 1, P))


def test_prg_continuation_read_gives_the_same_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    seed = b"\x05" * 32
    want = sa.prg(seed, 300, b"self")
    monkeypatch.setattr(sa, "_first_read", lambda n: 1)
    assert sa.prg(seed, 300, b"self") == want


def test_sparse_roster_for_carries_only_the_neighbourhood() -> None:
    session = Session(b"task-I", 4, tuple(range(1, 13)), threshold=3, length=L, degree=4)
    xs = _inputs(session, 7)
    parts = {i: Participant(session, i, xs[i]) for i in session.participants}
    agg = Aggregator(session)
    for p in parts.values():
        agg.receive_keys(p.advertise_keys())
    for i, p in parts.items():
        r = agg.roster_for(i)
        assert set(r.keys) == session.closed(i)
        agg.receive_shares(p.share_keys(r))
    for i, fwd in agg.forward_shares().items():
        agg.receive_masked(parts[i].masked_input(fwd))
    req, unmask = _certify(agg, parts)
    for i in sorted(unmask.signatures):
        agg.receive_unmask(parts[i].unmask(unmask))
    assert agg.finish().values == _sum(xs, session.participants)


def test_aggregator_rejects_unrequested_or_non_field_shares() -> None:
    session = Session(b"task-J", 1, (1, 2, 3, 4), threshold=3, length=L)
    xs = _inputs(session, 8)
    parts = {i: Participant(session, i, xs[i]) for i in session.participants}
    agg = Aggregator(session)
    for p in parts.values():
        agg.receive_keys(p.advertise_keys())
    roster = agg.roster()
    for p in parts.values():
        agg.receive_shares(p.share_keys(roster))
    for i, fwd in agg.forward_shares().items():
        agg.receive_masked(parts[i].masked_input(fwd))
    req, unmask = _certify(agg, parts)
    good = parts[1].unmask(unmask)
    before = _snapshot(agg)
    extra = sa.UnmaskResponse(good.task, good.round, 1, good.b_shares, {2: 5})
    with pytest.raises(ProtocolError, match="unrequested"):
        agg.receive_unmask(extra)
    big = sa.UnmaskResponse(good.task, good.round, 1, {**good.b_shares, 2: P}, {})
    with pytest.raises(ProtocolError, match="non-field"):
        agg.receive_unmask(big)
    assert _snapshot(agg) == before
    with pytest.raises(ProtocolError, match="step"):
        agg.receive_masked(MaskedInput(session.task, session.round, 1, xs[1]))


# ---------------------------------------------------------------- wire form: decode


ALL_TYPES = {sa.AdvertiseKeys, sa.Roster, sa.ShareKeys, sa.ForwardedShares, sa.MaskedInput,
             sa.ConsistencyRequest, sa.ConsistencySignature, sa.UnmaskRequest, sa.UnmaskResponse}
WIRE_DROPS = {3: Step.MASKED_INPUT, 5: Step.UNMASK}


def _wire_session(monkeypatch: pytest.MonkeyPatch, degree: int | None = None) -> tuple:
    """A signed session with two dropouts (one after sharing keys, so s-shares are asked
    for) run with every message through encode -> decode; returns what was encoded."""
    session = Session(b"task-W", 11, (1, 2, 3, 4, 5, 6), threshold=4, length=L, degree=degree)
    xs = _inputs(session, 9)
    signers, verify = sa.ed25519_accounts(session.participants)
    seen: list[tuple[object, bytes]] = []
    encode = sa._Wire.encode

    def recording(self: object) -> bytes:
        out = encode(self)
        seen.append((self, out))
        return out

    monkeypatch.setattr(sa._Wire, "encode", recording)
    result, agg, _ = sa.run_session(session, xs, WIRE_DROPS, signers, verify, wire=True)
    monkeypatch.undo()
    return session, xs, result, agg, seen, verify


def test_session_over_the_wire_recovers_the_exact_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    session, xs, result, agg, seen, _ = _wire_session(monkeypatch)
    assert result.included == (1, 2, 4, 5, 6)
    assert result.values == _sum(xs, result.included)
    assert {type(m) for m, _ in seen} == ALL_TYPES
    # What the aggregator recorded are the decoded copies, equal to what was sent.
    assert all(type(m) in ALL_TYPES for m in agg.view)


def test_every_message_type_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    session, _, _, _, seen, verify = _wire_session(monkeypatch)
    responses = [m for m, _ in seen if isinstance(m, sa.UnmaskResponse)]
    assert any(m.s_shares for m in responses) and any(m.b_shares for m in responses)
    for m, data in seen:
        assert data[:2] == bytes((m.TAG, sa.WIRE_VERSION))
        assert sa.decode(data) == m
        assert sa.decode(data, session) == m
        assert type(m).decode(data, session) == m
        assert sa.decode(data).encode() == data
        if type(m).SIGNED:  # every participant message is signed by its sender
            assert m.signature and verify(m.sender, m.signed_part(), m.signature)
            assert data == m.signed_part()[len(b"zkpot-secagg/v1/"):] + sa._blob(m.signature)


def test_sparse_session_over_the_wire(monkeypatch: pytest.MonkeyPatch) -> None:
    session = Session(b"task-X", 2, tuple(range(1, 11)), threshold=3, length=L, degree=4)
    xs = _inputs(session, 10)
    result, _, _ = sa.run_session(session, xs, {4: Step.MASKED_INPUT}, wire=True)
    assert result.values == _sum(xs, result.included) and 4 not in result.included


@pytest.fixture(scope="module")
def encodings() -> dict[type, bytes]:
    mp = pytest.MonkeyPatch()
    try:
        _, _, _, _, seen, _ = _wire_session(mp)
    finally:
        mp.undo()
    out: dict[type, bytes] = {}
    for m, data in seen:  # the largest of each type (UnmaskResponse with both kinds of share)
        if len(data) > len(out.get(type(m), b"")):
            out[type(m)] = data
    return out


def _refused(data: object, match: str, session: Session | None = None) -> None:
    with pytest.raises(ProtocolError, match=match):
        sa.decode(data, session)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", sorted(ALL_TYPES, key=lambda c: c.TAG), ids=lambda c: c.__name__)
def test_truncated_extended_and_mistagged_encodings_are_refused(encodings: dict, cls: type) -> None:
    data = encodings[cls]
    assert sa.decode(data).encode() == data
    for k in range(len(data)):
        with pytest.raises(ProtocolError):
            sa.decode(data[:k])
    _refused(data + b"\0", "trailing")
    _refused(data + data, "trailing")
    _refused(bytes((0,)) + data[1:], "unknown message tag 0")
    _refused(bytes((200,)) + data[1:], "unknown message tag 200")
    _refused(data[:1] + bytes((sa.WIRE_VERSION + 1,)) + data[2:], "version")
    other = next(c for c in ALL_TYPES if c is not cls)
    with pytest.raises(ProtocolError, match=f"expected a {other.__name__}"):
        other.decode(data)


def _head(tag: int, task: bytes = b"task-W", rnd: int = 11) -> bytes:
    return bytes((tag, sa.WIRE_VERSION)) + sa._blob(task) + rnd.to_bytes(8, "big")


def test_oversized_counts_and_lengths_are_refused() -> None:
    session = Session(b"task-W", 11, (1, 2, 3, 4, 5, 6), threshold=4, length=L)
    u32 = sa._u32
    masked = _head(sa.MaskedInput.TAG) + u32(1)
    # A count beyond the module bound, before anything is read or allocated.
    _refused(masked + u32(2**32 - 1), "exceeds the bound")
    _refused(masked + u32(sa.MAX_VECTOR_LENGTH + 1), "exceeds the bound")
    # Within the bound but more than the bytes that follow.
    _refused(masked + u32(1000) + bytes(64), "do not fit")
    # With a session: the exact vector length, and at most n ids.
    _refused(masked + u32(L + 1) + bytes(32 * (L + 1)) + u32(0), "exceeds the bound", session)
    _refused(masked + u32(L - 1) + bytes(32 * (L - 1)) + u32(0), f"expected {L}", session)
    assert sa.decode(masked + u32(L - 1) + bytes(32 * (L - 1)) + u32(0)).values == (0,) * (L - 1)
    seven = _head(sa.ConsistencyRequest.TAG) + u32(7) + b"".join(u32(i) for i in range(1, 8))
    assert sa.decode(seven).survivors == frozenset(range(1, 8))
    _refused(seven, "survivors count 7 exceeds the bound 6", session)
    _refused(_head(sa.ConsistencyRequest.TAG) + u32(sa.MAX_PARTICIPANTS + 1), "exceeds the bound")
    # Length fields: task, signature, ciphertext.
    _refused(bytes((sa.ConsistencyRequest.TAG, sa.WIRE_VERSION)) + u32(sa.MAX_TASK_BYTES + 1)
             + bytes(sa.MAX_TASK_BYTES + 1) + bytes(8) + u32(0), "task of")
    sig = _head(sa.ConsistencySignature.TAG) + u32(1)
    _refused(sig + u32(sa.MAX_SIGNATURE_BYTES + 1) + bytes(sa.MAX_SIGNATURE_BYTES + 1), "signature of")
    assert sa.decode(sig + u32(64) + bytes(64)).signature == bytes(64)
    shares = _head(sa.ShareKeys.TAG) + u32(1) + u32(1) + u32(2)
    _refused(shares + u32(sa.CIPHERTEXT_BYTES - 1) + bytes(sa.CIPHERTEXT_BYTES + 3), "ciphertext is")
    _refused(shares + u32(sa.CIPHERTEXT_BYTES + 1) + bytes(sa.CIPHERTEXT_BYTES + 5), "ciphertext is")
    assert sa.decode(shares + u32(sa.CIPHERTEXT_BYTES) + bytes(sa.CIPHERTEXT_BYTES + 4)).ciphertexts == {
        2: bytes(sa.CIPHERTEXT_BYTES)}


def test_out_of_field_and_non_canonical_encodings_are_refused(encodings: dict) -> None:
    u32 = sa._u32
    masked = encodings[sa.MaskedInput]
    first = 2 + 4 + len(b"task-W") + 8 + 4 + 4
    for bad in (P, 2**256 - 1):
        _refused(masked[:first] + bad.to_bytes(32, "big") + masked[first + 32:], "not a field element")
    assert sa.decode(masked[:first] + (P - 1).to_bytes(32, "big") + masked[first + 32:]).values[0] == P - 1
    resp = _head(sa.UnmaskResponse.TAG) + u32(1) + u32(1) + u32(2)
    _refused(resp + P.to_bytes(32, "big") + u32(0) + u32(0), "not a field element")
    # Ids: nonzero, strictly increasing (so each message has one encoding).
    req = _head(sa.ConsistencyRequest.TAG)
    _refused(req + u32(2) + u32(2) + u32(1), "increasing")
    _refused(req + u32(2) + u32(1) + u32(1), "increasing")
    _refused(req + u32(1) + u32(0), "id 0")
    _refused(resp + (5).to_bytes(32, "big") + u32(2) + u32(3) + bytes(32) + u32(3) + bytes(32) + u32(0),
             "increasing")
    # A roster entry must itself be a valid advertisement.
    roster = encodings[sa.Roster]
    entry = 2 + 4 + len(b"task-W") + 8 + 4 + 4
    _refused(roster[:entry] + bytes((sa.MaskedInput.TAG,)) + roster[entry + 1:], "not an advertisement")
    _refused("not bytes", "bytes")
    # encode refuses what decode would refuse, rather than writing something else.
    with pytest.raises(ProtocolError, match="field element"):
        MaskedInput(b"t", 1, 1, (P,)).encode()
    with pytest.raises(ProtocolError, match="field element"):
        MaskedInput(b"t", 1, 1, (-1,)).encode()
    with pytest.raises(ProtocolError, match="32 bytes"):
        sa.AdvertiseKeys(b"t", 1, 1, bytes(31), bytes(32)).encode()


# ---------------------------------------------------------------- signatures on participant messages


def _bad_signatures(msg: object, signers: dict) -> dict[str, object]:
    """The same message unsigned, with a flipped signature bit, signed by another
    participant, and with a changed body under the original signature."""
    other = next(i for i in signers if i != msg.sender)
    flipped = msg.signature[:-1] + bytes((msg.signature[-1] ^ 1,))
    out = {
        "unsigned": dataclasses.replace(msg, signature=b""),
        "flipped": dataclasses.replace(msg, signature=flipped),
        "other signer": dataclasses.replace(msg, signature=signers[other](msg.signed_part())),
        "other round signed": dataclasses.replace(
            msg, signature=signers[msg.sender](dataclasses.replace(msg, round=msg.round + 1).signed_part())),
    }
    if isinstance(msg, MaskedInput):
        out["changed body"] = dataclasses.replace(msg, values=(msg.values[0] ^ 1,) + msg.values[1:])
    if isinstance(msg, sa.UnmaskResponse) and msg.b_shares:
        v = min(msg.b_shares)
        out["changed body"] = dataclasses.replace(msg, b_shares={**msg.b_shares, v: msg.b_shares[v] ^ 1})
    if isinstance(msg, sa.ShareKeys):
        r = min(msg.ciphertexts)
        out["changed body"] = dataclasses.replace(msg, ciphertexts={**msg.ciphertexts, r: bytes(sa.CIPHERTEXT_BYTES)})
    return out


def _refuse_all_then_accept(agg: Aggregator, receive: object, msg: object, signers: dict) -> None:
    for why, bad in _bad_signatures(msg, signers).items():
        before = _snapshot(agg)
        with pytest.raises(ProtocolError, match="bad signature"):
            receive(bad)  # type: ignore[operator]
        assert _snapshot(agg) == before, why
        with pytest.raises(ProtocolError, match="bad signature"):  # also after the wire
            receive(sa.decode(bad.encode(), agg.session))  # type: ignore[operator]
        assert _snapshot(agg) == before, why
    receive(msg)  # type: ignore[operator]


def test_aggregator_refuses_participant_messages_with_bad_signatures() -> None:
    session = Session(b"task-S", 5, (1, 2, 3, 4), threshold=3, length=L)
    xs = _inputs(session, 11)
    signers, verify = sa.ed25519_accounts(session.participants)
    parts = {i: Participant(session, i, xs[i], signers[i], verify) for i in session.participants}
    agg = Aggregator(session, verify)
    for i, p in parts.items():
        ad = p.advertise_keys()
        if i == 1:
            _refuse_all_then_accept(agg, agg.receive_keys, ad, signers)
        else:
            agg.receive_keys(ad)
    roster = agg.roster()
    for i, p in parts.items():
        msg = p.share_keys(roster)
        if i == 2:
            _refuse_all_then_accept(agg, agg.receive_shares, msg, signers)
        else:
            agg.receive_shares(msg)
    for i, fwd in agg.forward_shares().items():
        msg = parts[i].masked_input(fwd)
        if i == 3:
            _refuse_all_then_accept(agg, agg.receive_masked, msg, signers)
        else:
            agg.receive_masked(msg)
    req = agg.consistency_request()
    for i in sorted(req.survivors):
        msg = parts[i].consistency(req)
        if i == 4:
            before = _snapshot(agg)
            for bad in (sa.ConsistencySignature(msg.task, msg.round, 4, signers[1](sa.consistency_message(
                    session, req.survivors))), sa.ConsistencySignature(msg.task, msg.round, 4, b"")):
                with pytest.raises(ProtocolError, match="bad consistency signature"):
                    agg.receive_consistency(bad)
                assert _snapshot(agg) == before
        agg.receive_consistency(msg)
    unmask = agg.unmask_request()
    for i in sorted(unmask.signatures):
        msg = parts[i].unmask(unmask)
        if i == 1:
            _refuse_all_then_accept(agg, agg.receive_unmask, msg, signers)
        else:
            agg.receive_unmask(msg)
    assert agg.finish().values == _sum(xs, session.participants)


def test_without_a_verifier_signatures_are_not_required() -> None:
    session = Session(b"task-T", 1, (1, 2, 3), threshold=2, length=L)
    xs = _inputs(session, 12)
    result, agg, _ = sa.run_session(session, xs, {2: Step.UNMASK}, wire=True)
    assert result.values == _sum(xs, session.participants)
    assert all(m.signature == b"" for m in agg.view if type(m).SIGNED)


def test_session_fits_the_wire_bounds() -> None:
    with pytest.raises(sa.SecAggError, match="bounds"):
        Session(b"t" * (sa.MAX_TASK_BYTES + 1), 1, (1, 2, 3), threshold=2, length=L)
    with pytest.raises(ProtocolError, match="task id"):
        sa.ConsistencyRequest(b"t" * (sa.MAX_TASK_BYTES + 1), 1, frozenset()).encode()
