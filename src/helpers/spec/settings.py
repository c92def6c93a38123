"""Settings of a spec paper: the printed inputs its spec names, its assumptions, its calibration.

``INPUTS`` are the ``{ref: ...}`` numbers of the spec's model (in order of first use); ``design``
reads exactly those from the ledger (each as its quantity kind, value, count and denominator, so
the model converts it for the field it fills); ``load`` builds the ``helpers.settings.Settings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import contract, ledger
from ..settings import Settings, build
from .plan import load as load_plan


def inputs(paper: str) -> tuple[str, ...]:
    """The printed numbers the spec's model takes as given (a ledger ref each)."""
    return load_plan(paper).inputs


def design(paper: str) -> dict[str, dict[str, Any]]:
    """The INPUTS read from the ledger: ref -> {quantity, value, count, n} (nothing else is read)."""
    out = {}
    for ref in inputs(paper):
        row = ledger.lookup(contract.paper_of(paper), ref)
        out[ref] = {"quantity": row.quantity, "value": row.value, "count": row["count"], "n": row.n}
    return out


def load(paper: str, overrides: Mapping[str, Any] | None = None, calibrated: Mapping[str, Any] | None = None,
         n_multiplier: int = 1) -> Settings:  # fmt: skip
    """Design, assumptions (with ``overrides``) and the committed calibration (or ``calibrated``)."""
    plan = load_plan(paper)

    def committed() -> Mapping[str, Any]:
        from .. import calibrate

        return calibrate.load(paper)["params"]

    return build(paper, design(paper), overrides=overrides, calibrated=calibrated, n_multiplier=n_multiplier,
                 load_calibrated=committed if plan.free else None)  # fmt: skip
