"""Assumed values: numbers a paper does not give, each labelled, justified and movable.

One YAML file per paper under ``data/assumed/``. Each entry::

    ldh_high_share:
      value: 0.389
      range: [0.30, 0.50]          # what a sensitivity analysis moves it across
      why: "one line: why this value"
      source: "Dean et al. 2020, Blood Adv 4(14):3268 (external)"   # or "assumption"
      derived_from: [DES-04/high_ldh_pct]   # printed numbers the value was worked out from

    cox_ties:                      # an analysis choice the paper does not state
      value: breslow
      alternatives: [efron]        # what the sensitivity analysis switches to
      why: "SAS PHREG's default; the paper used SAS 9.3"
      source: "assumption"

A value that cannot move says why in ``fixed`` instead of a range. ``derived_from`` feeds the
roles of ``helpers.provenance``: a printed number used to set an assumption is not held out.

``load(paper)`` returns ``{name: value}``; ``table(paper)`` the full entries for display.

One reserved key, ``priors:``, holds the prior of each calibrated (free) parameter: uniform over
its ``range``, with ``why`` and ``source`` like an assumption (``priors(paper)``; read by
``helpers.posterior``). Priors are not assumed values: nothing simulates with them directly, and
the sensitivity sweep does not move them.
A notebook overrides an entry by passing ``overrides={name: value}``; an unknown name is an
error, so a typo cannot silently leave the default in force.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import paths


class AssumptionError(ValueError):
    """An assumed-parameter file is missing or malformed, or an override names no assumption."""


PRIORS = "priors"  # the reserved key of the priors block


class Prior(BaseModel):
    """The prior of one calibrated parameter: uniform over ``range``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    range: list[float] = Field(min_length=2, max_length=2)
    why: str = Field(min_length=5)
    source: str = Field(min_length=3)


class Assumption(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float | int | str | list[float]
    range: list[float] | None = Field(default=None, min_length=2, max_length=2)
    alternatives: list[str | float] | None = Field(default=None, min_length=1)
    fixed: str | None = Field(default=None, min_length=5)  # why the value cannot move
    why: str = Field(min_length=5)
    source: str = Field(min_length=3)
    unit: str | None = None
    derived_from: list[str] = []  # "CLAIM-ID/item" (or a claim ID) the value was worked out from


def _raw(paper: str) -> tuple[dict, str]:
    path = paths.paper_file("assumed", paper)
    if not path.exists():
        raise AssumptionError(f"{path}: file not found; restore it with `git checkout -- {path}`")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}, path.name
    except yaml.YAMLError as exc:
        raise AssumptionError(f"{path.name}: not valid YAML ({exc})") from exc


def _validated(kind, entry, where: str):
    """``entry`` as a ``kind`` (pydantic model), or an AssumptionError naming ``where`` and the field."""
    try:
        return kind.model_validate(entry)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "entry"
        raise AssumptionError(f"{where}, field {field}: {err['msg']}") from None


def priors(paper: str) -> dict[str, Prior]:
    """The priors of the calibrated parameters (``priors:`` block; empty when there is none)."""
    raw, name = _raw(paper)
    out = {}
    for param, entry in (raw.get(PRIORS) or {}).items():
        out[param] = _validated(Prior, entry, f"{name}: prior of {param}")
        lo, hi = out[param].range
        if not lo < hi:
            raise AssumptionError(f"{name}: prior of {param}: range [{lo}, {hi}] needs low < high")
    return out


def entries(paper: str) -> dict[str, Assumption]:
    raw, name_of_file = _raw(paper)
    out = {}
    for name, entry in raw.items():
        if name == PRIORS:
            continue
        out[name] = _validated(Assumption, entry, f"{name_of_file}: assumption {name}")
        rng = out[name].range
        if rng and rng[0] > rng[1]:
            raise AssumptionError(f"{name_of_file}: assumption {name}: range {rng} has low > high")
    return out


def load(paper: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Assumed values by name, with ``overrides`` applied (unknown names are an error)."""
    values = {name: a.value for name, a in entries(paper).items()}
    for name, value in (overrides or {}).items():
        if name not in values:
            raise AssumptionError(
                f"no assumption named {name!r} for {paper}; known: {', '.join(sorted(values))}"
            )
        values[name] = value
    return values


def table(paper: str) -> pd.DataFrame:
    """The assumptions of a paper, for display: value, how it moves (range, alternatives, or why it
    cannot), the printed numbers it was worked out from, why, source."""
    rows = [
        {"assumption": name, "value": a.value, "unit": a.unit or "",
         "range": _moves(a), "derived from": ", ".join(a.derived_from), "why": a.why, "source": a.source}
        for name, a in entries(paper).items()
    ]  # fmt: skip
    return pd.DataFrame(rows).set_index("assumption")


def _moves(a: Assumption) -> str:
    if a.range is not None:
        return f"{a.range[0]:g} to {a.range[1]:g}"
    if a.alternatives:
        return "or " + ", ".join(str(v) for v in a.alternatives)
    return f"fixed: {a.fixed}" if a.fixed else ""
