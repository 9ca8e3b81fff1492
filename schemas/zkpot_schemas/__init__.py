"""Schemas of zkpot's data: the task bundle and the worker's configuration files.

Pydantic models are the source of truth; ``python -m zkpot_schemas`` exports them as JSON
Schema into ``schemas/json/`` so tools in other languages can validate the same files.
"""

from zkpot_schemas.task import (
    AggregationRule,
    Artifact,
    CircuitSettings,
    InstanceLayout,
    RoundTiming,
    SrsKind,
    SrsReference,
    TaskManifest,
    TestSetReference,
    Weighting,
)

__all__ = [
    "AggregationRule",
    "Artifact",
    "CircuitSettings",
    "InstanceLayout",
    "RoundTiming",
    "SrsKind",
    "SrsReference",
    "TaskManifest",
    "TestSetReference",
    "Weighting",
]
