"""Keep environment.yml (conda, Binder) and requirements.lock (pip, uv) pinned to the same versions.

``requirements.in`` is the one input. ``make lock`` compiles ``requirements.lock`` from it (with
hashes) and rewrites ``environment.yml`` with ``python -m helpers.environment``;
tests/test_environment.py fails if either drifts from the input.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from . import paths

CONDA_NAMES = {"PyYAML": "pyyaml"}  # conda-forge spells a few names differently
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#\\]+)", re.M)


def pins(text: str) -> dict[str, str]:
    """``name==version`` pins of a requirements file, names normalised (PEP 503)."""
    return {re.sub(r"[-_.]+", "-", m[1]).lower(): m[2] for m in _PIN.finditer(text)}


def render_environment_yml(requirements_in: str) -> str:
    lines = [
        "# Generated from requirements.in by `python -m helpers.environment` (make lock): do not edit.",
        "# Same pins as requirements.lock (pip/uv); tests/test_environment.py checks they agree.",
        "name: cart-failure-replication",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
    ]
    for m in _PIN.finditer(requirements_in):
        lines.append(f"  - {CONDA_NAMES.get(m[1], m[1].lower())}={m[2]}")
    lines += ["  - pip:", "      - -e .", ""]
    return "\n".join(lines)


def main() -> int:
    text = (paths.PROJ_ROOT / "requirements.in").read_text(encoding="utf-8")
    Path(paths.PROJ_ROOT / "environment.yml").write_text(render_environment_yml(text), encoding="utf-8")
    print("wrote environment.yml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
