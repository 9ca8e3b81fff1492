"""The models exported as JSON Schema, by file name."""

from __future__ import annotations

from pydantic import BaseModel

from zkpot_schemas.task import TaskManifest

SCHEMAS: dict[str, type[BaseModel]] = {"task": TaskManifest}
