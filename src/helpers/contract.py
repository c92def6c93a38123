"""Where a paper's contract modules come from: its own package, or its study spec.

A paper either has a package ``src/helpers/<paper>/`` (its ``settings``, ``model``, ``analysis``,
... written by hand) or, without one, a study spec ``data/specs/<paper>.yaml`` that the generic
package ``helpers.spec`` implements. ``module`` is the one lookup ``helpers.study``,
``helpers.provenance`` and ``helpers.calibrate`` use, so a spec paper runs wherever a package does.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

import yaml

from . import paths


def has_package(paper: str) -> bool:
    """Is there a hand-written package ``helpers.<paper>``?"""
    try:
        return importlib.util.find_spec(f"helpers.{paper}") is not None
    except (ModuleNotFoundError, ValueError):
        return False


def spec_file(paper: str):
    return paths.paper_file("spec", paper)


def is_spec_paper(paper: str) -> bool:
    """A paper implemented by its study spec (a spec file and no package)."""
    return not has_package(paper) and spec_file(paper).exists()


def module(paper: str, name: str) -> ModuleType | None:
    """The contract module ``name`` of ``paper``: ``helpers.<paper>.<name>``, else the generic one
    bound to the paper's spec (``helpers.spec.bind``); None when the paper has no such module.

    An error inside an existing module (or a malformed spec: ``SpecError``) propagates.
    """
    if has_package(paper):
        try:
            return importlib.import_module(f"helpers.{paper}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"helpers.{paper}.{name}":
                raise
            return None
    if spec_file(paper).exists():
        from .spec import bind

        return bind(paper, name)
    return None


def declares(paper: str, name: str) -> bool:
    """Does ``paper`` have module ``name``? A cheap check that never raises (for registries built at
    import time): a spec paper has a calibration when its spec declares ``calibration.free``."""
    if has_package(paper):
        try:
            return importlib.util.find_spec(f"helpers.{paper}.{name}") is not None
        except (ModuleNotFoundError, ValueError):
            return False
    path = spec_file(paper)
    if not path.exists():
        return False
    if name != "calibration":
        return True
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return bool((data.get("calibration") or {}).get("free"))
    except (OSError, yaml.YAMLError, AttributeError):
        return True  # malformed: let the real lookup report it
