"""Differential tests: the native verifier (`zkpot-verify`, runtime-pallet/verifier) against
ezkl's own verifier, on the same proof files, honest and tampered.

Two sources of proofs:

* the committed fixtures of runtime-pallet/verifier/fixtures. The binary runs on them
  always. ezkl needs each fixture's verifying key and SRS, which are not committed:
  ``fixtures/generate.py`` leaves them in ``$ZKPOT_CACHE/fixtures-keys/<name>``, and the
  comparison with ezkl runs only where that cache still holds the very proof and VKA that
  were committed (a regeneration draws a fresh SRS, so older keys would not match);
* a proof made here of the embedded task (``ensure_default_task``) with the task's initial
  weights, the statement the chain verifies.

Each verdict pair must agree: both accept or both reject. The binary is the one the build
scripts make (``paths.rust_binary``); set ``CARGO_TARGET_DIR`` to use another build.
"""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from zkpot import paths
from zkpot.proof import ezkl_ops, prover, srs
from zkpot.proof.task import ensure_default_task

pytestmark = pytest.mark.rust

FIXTURES = paths.REPO_ROOT / "runtime-pallet" / "verifier" / "fixtures"
FIXTURE_NAMES = sorted(p.name for p in FIXTURES.iterdir() if (p / "vka.bin").is_file())
#: Where fixtures/generate.py keeps the SRS, keys and builds of each fixture.
FIXTURE_KEYS = paths.cache_dir() / "fixtures-keys"

#: BN254 scalar field modulus: the smallest value that is not a field element.
FR_MODULUS = 0x30644E72E131A029B85045B68181585D2833E84879B9709143E1F593F0000001


@dataclass(frozen=True)
class Verdict:
    code: int
    out: str

    @property
    def accepted(self) -> bool:
        return self.code == 0


def zkpot_verify(vka: Path, proof: Path) -> Verdict:
    binary = paths.rust_binary("zkpot-verify")
    if not binary.is_file():
        pytest.fail(f"no {binary}: run scripts/build-chain.sh (it builds zkpot-verify) first")
    r = subprocess.run([str(binary), "--vka", str(vka), "--proof", str(proof)],
                       capture_output=True, text=True, timeout=120)
    return Verdict(r.returncode, (r.stdout + r.stderr).strip())


# --------------------------------------------------------------------------- tampering


def _with_proof(doc: dict, proof: bytes) -> dict:
    """``doc`` with its proof replaced in both fields ezkl writes (byte list and hex)."""
    doc = copy.deepcopy(doc)
    doc["proof"] = list(proof)
    doc["hex_proof"] = "0x" + proof.hex()
    return doc


def _proof_bytes(doc: dict) -> bytes:
    return bytes(doc["proof"])


def _flip(where: float) -> Callable[[dict], dict]:
    """Flips the low bit of the byte at fraction ``where`` of the proof."""
    def tamper(doc: dict) -> dict:
        b = bytearray(_proof_bytes(doc))
        b[min(int(where * len(b)), len(b) - 1)] ^= 0x01
        return _with_proof(doc, bytes(b))
    return tamper


def _set_instance(index: int, value: Callable[[int], int]) -> Callable[[dict], dict]:
    """Replaces the flattened instance ``index`` (negative: from the end)."""
    def tamper(doc: dict) -> dict:
        doc = copy.deepcopy(doc)
        flat = [(c, i) for c, col in enumerate(doc["instances"]) for i in range(len(col))]
        c, i = flat[index]
        old = ezkl_ops.felt_le_hex_to_int(doc["instances"][c][i])
        doc["instances"][c][i] = (value(old) % 2**256).to_bytes(32, "little").hex()
        return doc
    return tamper


def _truncate(doc: dict) -> dict:
    return _with_proof(doc, _proof_bytes(doc)[:-32])


def _extend(doc: dict) -> dict:
    return _with_proof(doc, _proof_bytes(doc) + bytes(32))


def _first_point(x: int, y: int) -> Callable[[dict], dict]:
    """Replaces the proof's first G1 point, the model commitment of a polycommit circuit."""
    def tamper(doc: dict) -> dict:
        b = x.to_bytes(32, "big") + y.to_bytes(32, "big") + _proof_bytes(doc)[64:]
        return _with_proof(doc, b)
    return tamper


def _drop_last_instance(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["instances"][-1] = doc["instances"][-1][:-1]
    return doc


#: Changes to a proof file, each of which must make both verifiers reject it. The last
#: instance is the public score of the ZKPoT statement (and an output elsewhere). The first
#: point of the proof is the model commitment of a polycommit circuit (and some other
#: column's commitment elsewhere): another model's commitment (the generator stands for
#: one), a point off the curve and the identity must all fail.
TAMPERINGS: dict[str, Callable[[dict], dict]] = {
    "first proof byte flipped": _flip(0.0),
    "middle proof byte flipped": _flip(0.5),
    "last proof byte flipped": _flip(1.0),
    "last instance + 1": _set_instance(-1, lambda v: v + 1),
    "first instance + 1": _set_instance(0, lambda v: v + 1),
    "instance not a field element": _set_instance(-1, lambda v: v + FR_MODULUS),
    "proof truncated by 32 bytes": _truncate,
    "instance missing": _drop_last_instance,
    "model commitment swapped for another point": _first_point(1, 2),
    "model commitment off the curve": _first_point(1, 3),
    "model commitment the identity": _first_point(0, 0),
}

#: Changes that only the native verifier rejects, on purpose. ezkl's halo2 verifier stops
#: reading the transcript where the circuit's proof ends and ignores trailing bytes; the
#: native verifier, like ezkl's Solidity verifier, requires the exact proof length the VKA
#: declares, so a proof stored on chain has exactly one byte string.
STRICTER: dict[str, Callable[[dict], dict]] = {
    "proof extended by 32 bytes": _extend,
}


def _write(doc: dict, path: Path) -> Path:
    path.write_text(json.dumps(doc))
    return path


# --------------------------------------------------------------------------- committed fixtures


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_binary_accepts_each_fixture_and_rejects_its_tamperings(name, tmp_path):
    fx = FIXTURES / name
    assert zkpot_verify(fx / "vka.bin", fx / "proof.json") == Verdict(0, "valid")
    doc = json.loads((fx / "proof.json").read_text())
    for what, tamper in {**TAMPERINGS, **STRICTER}.items():
        v = zkpot_verify(fx / "vka.bin", _write(tamper(doc), tmp_path / "proof.json"))
        assert v.code == 1 and v.out.startswith("invalid: "), (what, v)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_binary_rejects_other_fixtures_proofs(name):
    for other in FIXTURE_NAMES:
        if other != name:
            v = zkpot_verify(FIXTURES / name / "vka.bin", FIXTURES / other / "proof.json")
            assert v.code == 1 and v.out.startswith("invalid: "), (other, v)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_binary_refuses_damaged_vka_files(name, tmp_path):
    fx = FIXTURES / name
    vka = (fx / "vka.bin").read_bytes()
    damaged = {
        "truncated": vka[:-16],
        "header only": vka[:8],
        "empty": b"",
        "word count off by one": (int.from_bytes(vka[:8], "little") + 1).to_bytes(8, "little") + vka[8:],
    }
    for what, data in damaged.items():
        path = tmp_path / "vka.bin"
        path.write_bytes(data)
        v = zkpot_verify(path, fx / "proof.json")
        assert v.code == 2 and v.out.startswith("error: "), (what, v)
    v = zkpot_verify(tmp_path / "missing.bin", fx / "proof.json")
    assert v.code == 2 and v.out.startswith("error: "), v
    (tmp_path / "bad.json").write_text("{not json")
    v = zkpot_verify(fx / "vka.bin", tmp_path / "bad.json")
    assert v.code == 2 and v.out.startswith("error: "), v


def _fixture_keys(name: str) -> Path:
    """The cached keys of a fixture, if they are the ones that made the committed files."""
    keys = FIXTURE_KEYS / name
    needed = ("proof.json", "vka.bin", "settings.json", "vk.key", "kzg.srs")
    if not all((keys / f).is_file() for f in needed):
        pytest.skip(f"no cached keys for {name} in {keys} (fixtures/generate.py leaves them there)")
    for f in ("proof.json", "vka.bin"):
        if (keys / f).read_bytes() != (FIXTURES / name / f).read_bytes():
            pytest.skip(f"the cached {keys / f} is not the committed one (fixtures regenerated since)")
    return keys


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_verdicts_agree_with_ezkl(name, tmp_path):
    keys = _fixture_keys(name)

    def ezkl_accepts(proof: Path, of: Path = keys) -> bool:
        return ezkl_ops.verify(proof, of / "settings.json", of / "vk.key", of / "kzg.srs")

    proof = FIXTURES / name / "proof.json"
    assert ezkl_accepts(proof) and zkpot_verify(keys / "vka.bin", proof).accepted
    doc = json.loads(proof.read_text())
    for what, tamper in TAMPERINGS.items():
        path = _write(tamper(doc), tmp_path / f"{len(what)}.json")
        assert not ezkl_accepts(path), what
        assert not zkpot_verify(keys / "vka.bin", path).accepted, what
    for what, tamper in STRICTER.items():
        path = _write(tamper(doc), tmp_path / "stricter.json")
        assert ezkl_accepts(path), what
        assert not zkpot_verify(keys / "vka.bin", path).accepted, what
    # Another circuit's proof, each verifier with this circuit's key.
    for other in FIXTURE_NAMES:
        if other != name:
            foreign = FIXTURES / other / "proof.json"
            assert not ezkl_accepts(foreign), other
            assert not zkpot_verify(keys / "vka.bin", foreign).accepted, other


# --------------------------------------------------------------------------- the embedded task


@pytest.fixture(scope="module")
def task():
    return ensure_default_task()


@pytest.fixture(scope="module")
def task_proof(task, tmp_path_factory) -> Path:
    """A fresh proof of the task's statement for its initial weights. Their score is below
    the task's minimum, which says nothing about the proof's validity: proving is forced."""
    out = tmp_path_factory.mktemp("task-proof")
    result = asyncio.run(prover.prove_async(task.dir, task.path("initial_weights"), out, min_score=None))
    return Path(result.proof_path)


@pytest.mark.prover
def test_task_proof_verdicts_agree_with_ezkl(task, task_proof, tmp_path):
    srs_file = srs.resolve(task.manifest.srs)

    def both(proof: Path, vka: Path | None = None) -> tuple[bool, Verdict]:
        ours = zkpot_verify(vka or task.path("vka"), proof)
        theirs = ezkl_ops.verify(proof, task.path("settings_file"), task.path("vk"), srs_file)
        return theirs, ours

    theirs, ours = both(task_proof)
    assert theirs is True and ours == Verdict(0, "valid")
    doc = json.loads(task_proof.read_text())
    for what, tamper in TAMPERINGS.items():
        theirs, ours = both(_write(tamper(doc), tmp_path / f"{len(what)}.json"))
        assert theirs is False and ours.code == 1, (what, ours)
    for what, tamper in STRICTER.items():
        theirs, ours = both(_write(tamper(doc), tmp_path / "stricter.json"))
        assert theirs is True and ours.code == 1, (what, ours)
    # The committed zkpot-mlp fixture states the same kind of claim for another circuit
    # (other weights scale, other columns): neither circuit's key accepts the other's proof.
    fixture = FIXTURES / "zkpot-mlp"
    theirs, ours = both(fixture / "proof.json")
    assert theirs is False and ours.code == 1, ours
    assert zkpot_verify(fixture / "vka.bin", task_proof).code == 1
