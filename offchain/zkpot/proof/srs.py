"""The KZG structured reference string (SRS) the keys are made with.

Development: ``ezkl.gen_srs`` makes one locally. Its secret was on this machine, so anyone
with access could forge proofs: it is INSECURE, cached once per logrows so that every task
built here shares it (and gets the same VKA when rebuilt), and marked ``dev-insecure`` in
every task that uses it. Production: a file from a public powers-of-tau ceremony, given
with its published SHA-256, which is checked before use.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from zkpot_schemas import SrsKind, SrsReference

from zkpot import paths
from zkpot.proof import ezkl_ops

log = logging.getLogger(__name__)


class SrsError(RuntimeError):
    """The SRS is missing or is not the one expected."""


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, lowercase hex."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dev_srs_path(logrows: int) -> Path:
    """Where the development SRS for ``logrows`` is cached."""
    return paths.cache_dir() / "srs" / f"k{logrows}.dev-insecure.srs"


def dev_srs(logrows: int) -> tuple[Path, SrsReference]:
    """The cached development SRS, made on first use. INSECURE."""
    path = dev_srs_path(logrows)
    if not path.is_file():
        log.warning("generating an INSECURE development SRS for logrows %d (once)", logrows)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            ezkl_ops.gen_srs(Path(tmp), logrows)
            os.replace(tmp, path)  # atomic: a killed run never leaves half an SRS
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    ref = SrsReference(
        kind=SrsKind.DEV_INSECURE,
        logrows=logrows,
        sha256=sha256_file(path),
        insecure=True,
        note="generated locally by ezkl.gen_srs: INSECURE, for development only",
    )
    return path, ref


def ceremony_srs(source: Path, logrows: int, expected_sha256: str) -> tuple[Path, SrsReference]:
    """A ceremony SRS file, checked against its published hash and cached."""
    if not source.is_file():
        raise SrsError(f"SRS file not found: {source}")
    digest = sha256_file(source)
    if digest != expected_sha256.lower():
        raise SrsError(f"{source} has SHA-256 {digest}, expected {expected_sha256}")
    path = paths.cache_dir() / "srs" / f"k{logrows}.{digest[:16]}.srs"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
    ref = SrsReference(kind=SrsKind.CEREMONY, logrows=logrows, sha256=digest, insecure=False)
    return path, ref


def resolve(ref: SrsReference) -> Path:
    """The local file for an SRS a task refers to; its hash must match."""
    candidates = [dev_srs_path(ref.logrows)] if ref.kind is SrsKind.DEV_INSECURE else []
    candidates.append(paths.cache_dir() / "srs" / f"k{ref.logrows}.{ref.sha256[:16]}.srs")
    for path in candidates:
        if path.is_file() and sha256_file(path) == ref.sha256:
            return path
    hint = (
        "the development SRS of this task was generated on another machine; copy it into "
        f"{dev_srs_path(ref.logrows)}"
        if ref.kind is SrsKind.DEV_INSECURE
        else "load the ceremony file with `zkpot task build --srs FILE --srs-sha256 HASH`"
    )
    raise SrsError(f"no SRS with SHA-256 {ref.sha256} (logrows {ref.logrows}): {hint}")
