"""The worker's configuration: a TOML file, with environment overrides.

Every field can be overridden by ``ZKPOT_WORKER_<FIELD>`` (upper case; nested fields join
with ``__``, e.g. ``ZKPOT_WORKER_TRAINING__EPOCHS``). An invalid configuration is reported
as one line per problem, before anything starts.
"""

from __future__ import annotations

import enum
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_PREFIX = "ZKPOT_WORKER_"


class ConfigError(ValueError):
    """The configuration is invalid: ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Behaviour(enum.StrEnum):
    """How the worker trains. Anything but ``honest`` exists for tests and the demo."""

    HONEST = "honest"
    #: Submits an untrained model with random weights.
    RANDOM_WEIGHTS = "random-weights"
    #: Trains on labels shifted by one class.
    FLIPPED_LABELS = "flipped-labels"
    #: Trains and proves honestly, then enters other weights than it proved into secure
    #: aggregation (the recovered sum misses the chain's aggregate commitment).
    SWAPPED_MODEL = "swapped-model"
    #: Trains and proves honestly; when it publishes the global model, serves other
    #: weights than the sum the chain committed to (here: its own model, scaled to the
    #: total weight, a model-replacement attack).
    POISONED_AGGREGATE = "poisoned-aggregate"

    @property
    def inflates_score(self) -> bool:
        """Whether it claims a higher score than its proof shows (a chain-side test)."""
        return self in (Behaviour.RANDOM_WEIGHTS, Behaviour.FLIPPED_LABELS)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyConfig(_Section):
    """Where the sr25519 key comes from: exactly one of a file or an environment variable."""

    file: Path | None = None
    env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")

    @model_validator(mode="after")
    def _exactly_one(self) -> KeyConfig:
        if (self.file is None) == (self.env is None):
            raise ValueError("give exactly one of key.file or key.env")
        return self


class DataConfig(_Section):
    """The worker's private data: its share of a data set."""

    dataset: str = Field(default="digits", pattern=r"^(digits|mnist7|mnist|cifar10)$")
    directory: Path | None = None
    #: This worker's index among `clients` splits of the training data.
    client: Annotated[int, Field(ge=0)] = 0
    clients: Annotated[int, Field(ge=1, le=10_000)] = 1
    #: Dirichlet concentration of a non-IID split; none for IID.
    alpha: Annotated[float, Field(gt=0)] | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _client_in_range(self) -> DataConfig:
        if self.client >= self.clients:
            raise ValueError(f"client index {self.client} must be below clients ({self.clients})")
        return self


class TrainingConfig(_Section):
    """Local training per round."""

    epochs: Annotated[int, Field(ge=1, le=10_000)] = 30
    lr: Annotated[float, Field(gt=0, le=10)] = 0.01
    batch_size: Annotated[int, Field(ge=1, le=65_536)] = 64
    seed: int = 0


class WorkerConfig(_Section):
    """Configuration of ``zkpot worker run``."""

    chain_url: str = Field(pattern=r"^wss?://[^\s/]+(:\d+)?(/\S*)?$")
    task_id: Annotated[int, Field(ge=0)]
    task_dir: Path
    key: KeyConfig
    data: DataConfig = DataConfig()
    training: TrainingConfig = TrainingConfig()
    #: "auto" uses CUDA when present.
    device: str = Field(default="auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    #: HTTP server (model exchange, /health, /metrics).
    listen_host: str = "127.0.0.1"
    listen_port: Annotated[int, Field(ge=1, le=65535)] = 8700
    #: URL under which others reach this worker's server; defaults to the listen address.
    public_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    state_dir: Path
    #: Set session keys so that the worker can be elected block author.
    author: bool = True
    behaviour: Behaviour = Behaviour.HONEST
    #: Seconds to wait for a model download.
    http_timeout: Annotated[float, Field(gt=0, le=600)] = 30.0
    #: Largest model file accepted over HTTP, in bytes.
    max_model_bytes: Annotated[int, Field(ge=1024, le=1 << 30)] = 16 << 20
    #: How many of a round's best-ranked contributors compute and serve the global model
    #: (the publisher and the fallbacks a downloader tries when a served model does not
    #: match the chain's commitment).
    aggregator_candidates: Annotated[int, Field(ge=1, le=64)] = 3
    #: Leave every round's secure aggregation right after the key agreement (answer the
    #: key and share requests, then nothing): a contributor that vanishes mid-protocol,
    #: for the demo's ``--dropout`` and tests.
    dropout_after_key_agreement: bool = False

    @field_validator("task_dir")
    @classmethod
    def _task_dir_exists(cls, v: Path) -> Path:
        if not (v / "task.json").is_file():
            raise ValueError(f"{v} is not a task directory (no task.json)")
        return v

    @property
    def base_url(self) -> str:
        """The URL other workers use for this worker's HTTP server."""
        return (self.public_url or f"http://{self.listen_host}:{self.listen_port}").rstrip("/")


def _env_overrides(prefix: str = ENV_PREFIX) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in os.environ.items():
        if not name.startswith(prefix):
            continue
        path = name[len(prefix):].lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    for k, v in over.items():
        base[k] = _merge(dict(base.get(k) or {}), v) if isinstance(v, dict) else v
    return base


def _problems(e: ValidationError) -> list[str]:
    lines = []
    for err in e.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {msg}")
    return lines


def load_config(path: Path | None, env: bool = True) -> WorkerConfig:
    """Reads ``path`` (TOML), applies environment overrides and validates everything."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError([f"config file not found: {path}"]) from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError([f"{path}: not valid TOML: {e}"]) from None
    if env:
        data = _merge(data, _env_overrides())
    try:
        return WorkerConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_problems(e)) from None
