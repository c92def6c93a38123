"""Every path the project reads or writes, in one place (never typed by hand in notebooks).

Generated output goes under ``reports/``. A run writes into a staging folder first (see
``helpers.runner``) and moves it into place only when every notebook succeeded, so the
output of the last good run survives a failed or interrupted one. The environment variable
``CART_REPORTS_DIR`` points notebooks at that staging folder.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJ_ROOT = Path(__file__).resolve().parents[2]
DATA = PROJ_ROOT / "data"
REPORTED = DATA / "reported"
ASSUMED = DATA / "assumed"
CALIBRATED = DATA / "calibrated"
NOTEBOOKS = PROJ_ROOT / "notebooks"
DOCS = PROJ_ROOT / "docs"

REPORTS_ENV = "CART_REPORTS_DIR"

# Papers held outside data/: generated studies (the real-data validation writes one per data set and
# split) that run through the same machinery without being papers of the project (not in
# claims_index.yaml, so never in the scorecard or the report). Name -> a folder with ledger.yaml,
# assumed.yaml, spec.yaml and, once fitted, calibrated.json (the layout of tests/spec_toy/).
# Registered per process by ``helpers.ledger.outside``; read only through the functions below.
OUTSIDE: dict[str, Path] = {}
OUTSIDE_FILES = {"reported": "ledger.yaml", "assumed": "assumed.yaml", "spec": "spec.yaml", "calibrated": "calibrated.json"}


def paper_file(kind: str, paper: str) -> Path:
    """Where a paper's ``kind`` of file lives: reported, assumed, spec or calibrated."""
    if paper in OUTSIDE:
        return OUTSIDE[paper] / OUTSIDE_FILES[kind]
    folder = {"reported": REPORTED, "assumed": ASSUMED, "spec": DATA / "specs", "calibrated": CALIBRATED}[kind]
    return folder / f"{paper}.{'json' if kind == 'calibrated' else 'yaml'}"


def reports_dir() -> Path:
    """The folder this run writes to: the staging folder during ``make all``, else ``reports/``."""
    return Path(os.environ.get(REPORTS_ENV, PROJ_ROOT / "reports"))


def tables_dir() -> Path:
    path = reports_dir() / "tables"
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir() -> Path:
    """Per-notebook results rows, gathered by the scorecard notebook."""
    path = tables_dir() / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def figures_dir() -> Path:
    path = reports_dir() / "figures"
    path.mkdir(parents=True, exist_ok=True)
    return path
