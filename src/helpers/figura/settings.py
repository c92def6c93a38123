"""Settings of the Figura et al. 2021 model: printed sizes, assumed values, calibrated parameters.

``INPUTS`` are the printed numbers the simulator takes as given: the lesion analysis's 469
lesions in 63 patients (FIG-01) and the 69 patients of the survival analysis (FIG-09). Every
other number the model needs is an assumption (``data/assumed/figura.yaml``: lesion-feature
prevalences and correlations, the analysis choices the abstract does not state, and the
time-to-failure and post-failure survival of ZUMA-1, an external trial) or a calibrated
parameter (``data/calibrated/figura.json``). ``load`` is the one way to get them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import calibrate, ledger
from ..settings import Settings, build

PAPER = "figura"
INPUTS = ("FIG-01/lesions", "FIG-01/patients", "FIG-09/survival_cohort")
_DESIGN = {"n_lesions": "FIG-01/lesions", "n_patients": "FIG-01/patients", "n_survival": "FIG-09/survival_cohort"}


def design() -> dict[str, int]:
    """The printed sizes (only the ``INPUTS``, read from the ledger): lesions, lesion-analysis
    patients, survival-analysis patients."""
    return {name: int(ledger.lookup(PAPER, ref).value) for name, ref in _DESIGN.items()}


def load(overrides: Mapping[str, Any] | None = None, calibrated: Mapping[str, Any] | None = None,
         n_multiplier: int = 1) -> Settings:  # fmt: skip
    """Design, assumptions (with ``overrides``) and calibration (the committed fit unless
    ``calibrated`` is given); every printed size times ``n_multiplier``."""
    return build(PAPER, design(), overrides=overrides, calibrated=calibrated, n_multiplier=n_multiplier,
                 load_calibrated=lambda: calibrate.load(PAPER)["params"])  # fmt: skip
