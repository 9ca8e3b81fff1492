"""Exports the JSON Schemas: ``python -m zkpot_schemas [OUT_DIR]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from zkpot_schemas.export import SCHEMAS


def main() -> None:
    """Writes one ``<name>.schema.json`` per model."""
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "json"
    out.mkdir(parents=True, exist_ok=True)
    for name, model in SCHEMAS.items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n")
        print(path)


if __name__ == "__main__":
    main()
