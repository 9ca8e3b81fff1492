"""The configuration of ``zkpot experiment`` (TOML), with an embedded default."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: The full default configuration: every rule, attack and Byzantine fraction, both
#: splits, three seeds.
DEFAULT_TOML = """
architecture = "digits-mlp"
clients = 10
rounds = 10
local_epochs = 5
lr = 0.02
batch_size = 32
seeds = [0, 1, 2]
splits = ["iid", "dirichlet"]
alpha = 0.5
byzantine_fractions = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
attacks = ["label-flip", "random-weights", "sign-flip", "scaled", "free-rider", "byzantine-leader"]
rules = ["zkpot", "fedavg", "pos", "pow", "pofl"]
min_score = 24
aggregator_candidates = 3
prove_every = 0
prove_clients = 1
mia_samples = 200
plugins = []
"""

#: What ``--quick`` changes: one seed, the IID split, two fractions, fewer clients and
#: rounds; every rule and attack still runs.
QUICK = {"clients": 6, "rounds": 4, "seeds": [0], "splits": ["iid"],
         "byzantine_fractions": [0.0, 0.3], "mia_samples": 100}


class ConfigError(ValueError):
    """The configuration is invalid; one line per problem."""


class ExperimentConfig(BaseModel):
    """Everything a grid of runs depends on."""

    model_config = ConfigDict(extra="forbid")

    #: A task architecture the fixed-point emulation reproduces (``digits-mlp``,
    #: ``mnist7-mlp``); its task (built on first use) gives the data split, the fixed test
    #: samples of the score and the quantization.
    architecture: str = Field(pattern=r"^(digits-mlp|mnist7-mlp)$")
    clients: Annotated[int, Field(ge=2, le=1000)]
    rounds: Annotated[int, Field(ge=1, le=1000)]
    local_epochs: Annotated[int, Field(ge=1, le=100)]
    lr: Annotated[float, Field(gt=0, le=1)]
    batch_size: Annotated[int, Field(ge=1, le=4096)]
    seeds: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    splits: list[str] = Field(min_length=1)
    #: Dirichlet concentration of the non-IID split.
    alpha: Annotated[float, Field(gt=0)]
    byzantine_fractions: list[Annotated[float, Field(ge=0, le=0.5)]] = Field(min_length=1)
    attacks: list[str] = Field(min_length=1)
    rules: list[str] = Field(min_length=1)
    #: Samples of the task's fixed test set a proof must show correct (ZKPoT, PoFL).
    min_score: Annotated[int, Field(ge=0)]
    #: ZKPoT: how many best-ranked contributors can serve the global model.
    aggregator_candidates: Annotated[int, Field(ge=1)] = 3
    #: Every Nth round (0: never), real proofs of ``prove_clients`` ZKPoT contributions
    #: are made and verified natively; a proven score that differs from the simulated one
    #: fails the run.
    prove_every: Annotated[int, Field(ge=0)] = 0
    prove_clients: Annotated[int, Field(ge=1)] = 1
    #: Members and non-members per membership-inference attack.
    mia_samples: Annotated[int, Field(ge=10)] = 200
    #: Modules imported first: they may register more attacks and rules.
    plugins: list[str] = []
    #: Parallel processes (0: one per CPU core).
    workers: Annotated[int, Field(ge=0)] = 0

    @field_validator("splits")
    @classmethod
    def _splits(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if s not in ("iid", "dirichlet")]
        if bad:
            raise ValueError(f"unknown split(s) {bad}; known: iid, dirichlet")
        return v


def _problems(e: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg'].removeprefix('Value error, ')}"
            for err in e.errors()]


def load(path: Path | None = None, quick: bool = False, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """The default configuration, updated by the TOML file at ``path``, ``--quick`` and
    ``overrides`` (in that order)."""
    data = tomllib.loads(DEFAULT_TOML)
    if path is not None:
        try:
            data.update(tomllib.loads(path.read_text()))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
    if quick:
        data.update(QUICK)
    data.update(overrides or {})
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError("\n".join(_problems(e))) from None
