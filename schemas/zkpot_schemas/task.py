"""The task bundle: everything that defines one ZKPoT task and lets anyone audit it.

A task directory holds the circuit's artifacts (ONNX, ezkl settings, compiled circuit,
verifying key, VKA), the fixed test set, the initial model and ``task.json``, described by
:class:`TaskManifest`. Every artifact is named with its SHA-256, so the bundle can be
checked file by file, and the VKA hash is what the chain registers. Building a task twice
from the same inputs (same SRS) gives the same VKA byte for byte.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Version of the ``task.json`` format (2: KZG model commitments and aggregation rules).
SCHEMA_VERSION = 2

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lowercase hex")]
#: A model commitment as the chain stores it: a BN254 G1 point, x then y, 32 bytes
#: big-endian each (the bytes a proof carries at ``commitment_offset``).
CommitmentHex = Annotated[
    str,
    Field(pattern=r"^0x[0-9a-f]{128}$", description="G1 point x||y, 32-byte big-endian each"),
]
#: A file name inside the task directory (no directories, no traversal).
FileName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Artifact(_Strict):
    """One file of the bundle and its SHA-256."""

    path: FileName
    sha256: Sha256Hex
    size: int = Field(ge=0, description="bytes")


class SrsKind(enum.StrEnum):
    """Where the KZG structured reference string came from."""

    #: Generated locally by ``ezkl.gen_srs``: its toxic waste was known to this machine.
    #: INSECURE: anyone holding it can forge proofs. Development only.
    DEV_INSECURE = "dev-insecure"
    #: A file from a public powers-of-tau ceremony, checked against its published hash.
    CEREMONY = "ceremony"


class SrsReference(_Strict):
    """The SRS the keys were made with."""

    kind: SrsKind
    logrows: int = Field(ge=1, le=26)
    sha256: Sha256Hex
    insecure: bool = Field(description="true for a development SRS; repeated here on purpose")
    note: str = ""

    @model_validator(mode="after")
    def _insecure_matches_kind(self) -> SrsReference:
        if self.insecure != (self.kind is SrsKind.DEV_INSECURE):
            raise ValueError("insecure must be true exactly for a dev-insecure SRS")
        return self


class InstanceLayout(_Strict):
    """Where a proof states what.

    The ZKPoT circuit has one public instance, its output: the score. The model commitment
    is not an instance: with ezkl's ``polycommit`` parameters it is the KZG commitment of
    the parameter column, the proof's first G1 point (``commitment_offset`` 0).
    """

    num_instances: int = Field(ge=1, le=16)
    score_index: int = Field(ge=0, description="samples classified correctly")
    commitment_offset: int = Field(
        ge=0, le=65472, description="byte offset of the model commitment (64 bytes) in the proof"
    )

    @model_validator(mode="after")
    def _indices_in_range(self) -> InstanceLayout:
        if self.score_index >= self.num_instances:
            raise ValueError("score_index must be below num_instances")
        return self


class Weighting(enum.StrEnum):
    """How the included contributions are weighted in the global model."""

    #: Every included contribution counts once.
    EQUAL = "Equal"
    #: Each included contribution counts its proven score.
    SCORE = "Score"


class AggregationRule(_Strict):
    """Which contributions make the global model, and with which weights: both from
    proven on-chain data only (ranking and scores), never from a contributor's word."""

    top: int = Field(ge=1, le=64, description="the best `top` ranked contributions are aggregated")
    weighting: Weighting
    min_included_percent: int = Field(
        ge=1, le=100,
        description="the publisher may leave out contributions it could not obtain or check, "
        "but must include at least this percentage of them",
    )


class CircuitSettings(_Strict):
    """The ezkl run arguments that fix the circuit (copied from settings.json)."""

    input_scale: int = Field(ge=0, le=24)
    param_scale: int = Field(ge=0, le=24)
    scale_rebase_multiplier: int = Field(ge=1, le=64)
    num_inner_cols: int = Field(ge=1, le=64)
    decomp_base: int = Field(ge=2)
    decomp_legs: int = Field(ge=1, le=16)
    logrows: int = Field(ge=1, le=26)


class TestSetReference(_Strict):
    """The public test set fixed into the circuit."""

    dataset: str = Field(pattern=r"^[a-z0-9-]+$")
    num_samples: int = Field(ge=1, le=4096)
    num_classes: int = Field(ge=2, le=1000)
    #: The test split: this fraction of the data set, drawn with this seed (stratified).
    #: Workers train only on the rest, and the circuit's samples come from it.
    test_fraction: float = Field(gt=0, lt=1)
    split_seed: int
    #: How the circuit's samples were chosen from the test split.
    selection: str


class RoundTiming(_Strict):
    """Default round windows, in blocks, proposed when the task is registered."""

    commit_blocks: int = Field(ge=1, le=10_000)
    reveal_blocks: int = Field(ge=1, le=10_000)
    aggregation_blocks: int = Field(ge=1, le=10_000)


class TaskManifest(_Strict):
    """``task.json``: the description of a task bundle."""

    schema_version: int = Field(default=SCHEMA_VERSION)
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    architecture: str = Field(description="a name from zkpot_models.ARCHITECTURES")
    ezkl_version: str
    settings: CircuitSettings
    instances: InstanceLayout
    test_set: TestSetReference
    min_score: int = Field(ge=0, description="a contribution must classify at least this many")
    srs: SrsReference
    timing: RoundTiming
    aggregation: AggregationRule
    initial_commitment: CommitmentHex = Field(
        description="KZG commitment of the initial global model's quantized parameters"
    )
    zero_commitment: CommitmentHex = Field(
        description="C(0), the commitment of the all-zero model: the chain's aggregate needs it"
    )
    num_params: int = Field(ge=1, description="parameters of the model, in the circuit's order")
    #: The artifacts, by role.
    onnx: Artifact
    settings_file: Artifact
    compiled: Artifact
    vk: Artifact
    vka: Artifact
    test_data: Artifact
    witness_input: Artifact
    initial_weights: Artifact

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"unsupported task.json schema_version {v} (this is {SCHEMA_VERSION})")
        return v

    @model_validator(mode="after")
    def _threshold_possible(self) -> TaskManifest:
        if self.min_score > self.test_set.num_samples:
            raise ValueError("min_score exceeds the number of test samples")
        if self.settings.logrows != self.srs.logrows:
            raise ValueError("the SRS must have the circuit's logrows")
        return self

    def artifacts(self) -> dict[str, Artifact]:
        """Every artifact by role."""
        return {
            "onnx": self.onnx,
            "settings_file": self.settings_file,
            "compiled": self.compiled,
            "vk": self.vk,
            "vka": self.vka,
            "test_data": self.test_data,
            "witness_input": self.witness_input,
            "initial_weights": self.initial_weights,
        }


def is_hex32(value: str) -> bool:
    """Whether ``value`` is ``0x`` and 64 lowercase hex digits."""
    return re.fullmatch(r"0x[0-9a-f]{64}", value) is not None
