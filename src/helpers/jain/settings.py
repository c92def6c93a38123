"""Settings of the Jain model: the printed cohort size, the assumptions, the calibrated coefficients.

``INPUTS``: the one printed number the simulator takes as given, the cohort size of JAIN-01
(105 patients). Everything else comes from ``data/assumed/jain.yaml`` (assay-subset sizes, the
durable share, the path coefficients the P values do not fix, the tests) or from the committed
calibration (``data/calibrated/jain.json``: the five coefficients fitted to the printed P values).

``notebook(subset_scale, durable_share)`` maps the notebook's two parameters onto overrides of
those assumptions (the calibration stays the committed one: the effects are held at what the
printed P values imply at the assumed sizes and share, so the notebook shows what a smaller or
larger study, or another DR share, would see of the same effects).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .. import assumptions, ledger
from .. import settings as shared
from ..params import ParameterError

PAPER = "jain"
INPUTS = ("JAIN-01",)  # the cohort size (JAIN-01/patients); its 6-month landmark defines DR
SUBSETS = ("n_gene_expression", "n_ihc", "n_mmdsc", "n_cart", "n_serum", "n_mtv")
MIN_SUBSET = 8  # a scaled assay subset keeps at least this many patients (two groups of >= 2)
SUBSET_SCALE = (0.1, 5.0)  # allowed range of the notebook's subset_scale
DURABLE_SHARE = (0.05, 0.95)  # allowed range of durable_share


def design() -> dict[str, Any]:
    """The printed inputs, read from the ledger: ``n_patients`` (JAIN-01)."""
    return {"n_patients": int(ledger.lookup(PAPER, "JAIN-01/patients").value)}


def _committed() -> dict[str, float]:
    from .. import calibrate

    return dict(calibrate.load(PAPER)["params"])


def load(overrides: Mapping[str, Any] | None = None, calibrated: Mapping[str, Any] | None = None,
         n_multiplier: int = 1) -> shared.Settings:  # fmt: skip
    """Design, assumptions (with ``overrides``) and calibrated coefficients (the committed fit
    unless ``calibrated`` is given; ``calibrated={}`` for a fit in progress)."""
    return shared.build(PAPER, design(), overrides=overrides, calibrated=calibrated,
                        n_multiplier=n_multiplier, load_calibrated=_committed)  # fmt: skip


def notebook(subset_scale: float = 1.0, durable_share: float | None = None) -> shared.Settings:
    """Settings for the notebook's parameters (checked here, before any work).

    ``subset_scale`` multiplies every assumed assay-subset size (at least ``MIN_SUBSET``, at most
    the cohort); ``durable_share`` replaces the assumed share of durable responders (None keeps it).
    The calibrated coefficients stay the committed ones (see the module docstring).
    """
    _check_range("subset_scale", subset_scale, *SUBSET_SCALE)
    assumed = assumptions.load(PAPER)
    n = design()["n_patients"]
    overrides: dict[str, Any] = {k: int(min(n, max(MIN_SUBSET, round(assumed[k] * subset_scale)))) for k in SUBSETS}
    if durable_share is not None:
        _check_range("durable_share", durable_share, *DURABLE_SHARE)
        overrides["durable_share"] = float(durable_share)
    return load(overrides=overrides)


def _check_range(name: str, value: Any, lo: float, hi: float) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not lo <= value <= hi:
        raise ParameterError(f"{name}={value!r} is not allowed: use a number from {lo:g} to {hi:g}")
