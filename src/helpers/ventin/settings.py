"""Settings of the Ventin virtual cohort: assumptions (data/assumed/ventin.yaml) and the calibration.

The review prints no numbers, so nothing of it is fed to the simulator (``INPUTS`` is empty) and
``design()`` reads nothing from the ledger. Every value comes from ``data/assumed/ventin.yaml``
(published external numbers with their citation, and assumptions) and the fit in
``data/calibrated/ventin.json`` (to external ZUMA-1 numbers, see ``calibration``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import ledger
from ..settings import Settings, build

PAPER = "ventin"
INPUTS: tuple[str, ...] = ()  # a narrative review: no printed count or size to take as given


def design() -> dict[str, Any]:
    """The printed design numbers the simulator takes as given: only the ``INPUTS`` items (none)."""
    return {ref: ledger.lookup(PAPER, ref).value for ref in INPUTS}


def _committed_fit() -> dict[str, Any]:
    from .. import calibrate

    return calibrate.load(PAPER)["params"]


def load(overrides: Mapping[str, Any] | None = None, calibrated: Mapping[str, Any] | None = None,
         n_multiplier: int = 1) -> Settings:  # fmt: skip
    """Assumed values with ``overrides``, then the committed calibration (or ``calibrated``);
    cohort sizes times ``n_multiplier``."""
    return build(PAPER, design(), overrides=overrides, calibrated=calibrated, n_multiplier=n_multiplier,
                 load_calibrated=_committed_fit)  # fmt: skip
