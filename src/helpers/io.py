"""Writes that never leave a half-written file behind: write to a temporary file, then rename."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is for others to read too
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    # float_format fixes the printed digits so two runs give byte-identical tables
    _atomic(Path(path), lambda fh: df.to_csv(fh, index=False, float_format="%.10g", lineterminator="\n"))


def write_json_atomic(obj: Any, path: Path) -> None:
    _atomic(Path(path), lambda fh: fh.write(json.dumps(obj, indent=2, sort_keys=True) + "\n"))


def write_text_atomic(text: str, path: Path) -> None:
    _atomic(Path(path), lambda fh: fh.write(text))
