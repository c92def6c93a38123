"""Where a paper's contract modules come from: its own package, or its study spec.

A paper either has a package ``src/helpers/<paper>/`` (its ``settings``, ``model``, ``analysis``,
... written by hand) or, without one, a study spec ``data/specs/<paper>.yaml`` that the generic
package ``helpers.spec`` implements. ``module`` is the one lookup ``helpers.study``,
``helpers.provenance`` and ``helpers.calibrate`` use, so a spec paper runs wherever a package does.

A paper with a package may also have **spec variants**: a second model of some of its printed
numbers, ``data/specs/<paper>.<variant>.yaml`` (``paper: <paper>`` inside), for comparing the
hand-built model with a declarative one. The variant's *model key* is ``<paper>.<variant>``
(``descart.survival``): it always means the spec, never the package, and it keys everything that
belongs to that model alone: its assumptions (``data/assumed/<key>.yaml``), its committed fit
(``data/calibrated/<key>.json``) and its roles (``helpers.provenance.roles(key)``: from the
variant's own inputs, targets and ``derived_from``). The printed numbers stay the paper's
(``paper_of(key)``): one ledger, one claims index, one scorecard row per item (a variant is not
registered, so nothing of it reaches the scorecard or the report unless a notebook shows it).
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

import yaml

from . import paths

VARIANT_SEPARATOR = "."


def paper_of(key: str) -> str:
    """The paper whose ledger a model key re-derives: ``descart.survival`` -> ``descart``."""
    return key.split(VARIANT_SEPARATOR, 1)[0]


def is_variant(key: str) -> bool:
    """Is ``key`` a spec variant of a paper (``<paper>.<variant>``), not the paper itself?"""
    return VARIANT_SEPARATOR in key


def variants(paper: str | None = None) -> tuple[str, ...]:
    """Model keys of the committed spec variants (of ``paper``, or of every paper), sorted."""
    found = sorted(p.stem for p in (paths.DATA / "specs").glob(f"*{VARIANT_SEPARATOR}*.yaml"))
    return tuple(k for k in found if paper is None or paper_of(k) == paper)


def has_package(paper: str) -> bool:
    """Is there a hand-written package ``helpers.<paper>``? (Never for a variant key.)"""
    if is_variant(paper):
        return False
    try:
        return importlib.util.find_spec(f"helpers.{paper}") is not None
    except (ModuleNotFoundError, ValueError):
        return False


def spec_file(key: str):
    """``data/specs/<key>.yaml``: a paper's spec, or a variant's (``<paper>.<variant>.yaml``); an
    outside study's spec in its own folder."""
    return paths.paper_file("spec", key)


def is_spec_paper(paper: str) -> bool:
    """A paper implemented by its study spec (a spec file and no package)."""
    return not has_package(paper) and spec_file(paper).exists()


def module(paper: str, name: str) -> ModuleType | None:
    """The contract module ``name`` of ``paper``: ``helpers.<paper>.<name>``, else the generic one
    bound to the paper's spec (``helpers.spec.bind``); None when the paper has no such module.
    A variant key (``descart.survival``) always gets the generic module bound to the variant.

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
