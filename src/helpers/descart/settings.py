"""Settings of the DESCAR-T model: printed inputs, assumed values, calibrated parameters.

``INPUTS`` names the printed numbers the simulator takes as given (counts, group sizes and the
percentages those counts fix); ``design()`` reads exactly those from the ledger and nothing
else. ``load`` joins them with ``data/assumed/descart.yaml`` and ``data/calibrated/descart.json``
into one ``helpers.settings.Settings``, which ``model.simulate`` and ``analysis`` read.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from .. import audit, ledger
from .. import settings as shared

PAPER = "descart"
GROUPS = ("d0_d30", "d31_d90", "after_d90")
SALVAGE = ("lenalidomide", "bispecific", "targeted", "radiotherapy", "immunochemo", "other")
# best response to salvage among the evaluable; "ne" = evaluable count minus the printed categories
RESPONSE = ("cr", "pr", "sd", "pd", "ne")
BRIDGING = ("conventional", "light", "radiotherapy")

# Printed numbers the simulator takes as given. The counts below are assigned exactly; the
# percentages and complements listed with them are fixed by those counts (the simulated cohort
# reproduces them by construction, so they are inputs, not predictions).
_READ = (
    "DES-01/infused", "DES-01/infused_axicel", "DES-01/failed", "DES-01/failed_axicel",
    "DES-02/fail_d0_d30", "DES-02/fail_d31_d90", "DES-02/fail_after_d90", "DES-02/ttf_range",
    "DES-03/dlbcl", "DES-03/prior_lines_gt3", "DES-03/transplanted", "DES-03/aaipi_2_3",
    "DES-03/aaipi_2_3_pct", "DES-03/ecog_ge2_pct",
    "DES-04/bridging_conventional", "DES-04/bridging_light", "DES-04/bridging_radiotherapy",
    "DES-04/pd_at_infusion", "DES-04/pd_at_infusion_pct", "DES-04/high_ldh", "DES-04/high_ldh_pct",
    "DES-05/nonprogressive", "DES-05/np_cr", "DES-05/np_pr", "DES-05/np_sd",
    "DES-06/salvage", *(f"DES-06/{c}" for c in SALVAGE[:-1]),
    "DES-07/evaluable", *(f"DES-07/{c}" for c in RESPONSE[:-1]),
    "DES-13/radiotherapy_localized_n",
)  # fmt: skip
_FIXED_BY_THEM = (
    "DES-01/infused_tisacel", "DES-01/failed_tisacel", "DES-01/failed_pct",
    "DES-02/fail_d0_d30_pct", "DES-02/fail_d31_d90_pct", "DES-02/fail_after_d90_pct",
    "DES-03/dlbcl_pct", "DES-03/prior_lines_gt3_pct", "DES-03/transplanted_pct",
    "DES-04/bridging", "DES-04/bridging_pct", "DES-04/bridging_conventional_pct",
    "DES-04/bridging_light_pct", "DES-04/bridging_radiotherapy_pct",
    "DES-05/np_cr_pct", "DES-05/np_pr_pct", "DES-05/np_sd_pct",
    "DES-06/salvage_pct", *(f"DES-06/{c}_pct" for c in SALVAGE[:-1]),
    "DES-07/evaluable_pct", "DES-07/orr", "DES-07/orr_pct", *(f"DES-07/{c}_pct" for c in RESPONSE[:-1]),
)  # fmt: skip
INPUTS: tuple[str, ...] = _READ + _FIXED_BY_THEM


def _lookup(ref: str):
    if ref not in _READ:
        raise KeyError(f"design() reads only INPUTS; {ref} is not one of them")
    return ledger.lookup(PAPER, ref)


def _count(ref: str) -> int:
    return int(round(float(_lookup(ref)["value"])))


def _implied_n(ref: str) -> int:
    """The denominator of a printed percentage (``ref`` a percent item), or the one it implies.

    Where several whole denominators round to the printed percentage, the one closest to
    count / percent is taken (e.g. 72 = 38.9% implies 185).
    """
    rec = _lookup(ref)
    if rec["n"] == rec["n"] and rec["n"] is not None:  # printed (not NaN)
        return int(round(float(rec["n"])))
    count = int(round(float(rec["count"])))
    fits = audit.implied_denominators(count, rec["printed"])
    if not fits:
        raise ValueError(f"{ref}: no denominator gives {count} = {rec['printed']}%; check the ledger")
    return min(fits, key=lambda n: abs(n - 100 * count / float(rec["value"])))


def design() -> dict[str, Any]:
    """Printed counts the simulator takes as inputs, read from the ledger (only ``INPUTS``)."""
    salvage = [_count(f"DES-06/{c}") for c in SALVAGE[:-1]]
    response = [_count(f"DES-07/{c}") for c in RESPONSE[:-1]]
    ttf = _lookup("DES-02/ttf_range")
    return {
        "n_infused": _count("DES-01/infused"),
        "n_failed": _count("DES-01/failed"),
        "failed_axicel": _count("DES-01/failed_axicel"),
        "infused_axicel": _count("DES-01/infused_axicel"),
        "groups": [_count(f"DES-02/fail_{g}") for g in GROUPS],
        "ttf_min": float(ttf["lo"]),
        "ttf_max": float(ttf["hi"]),
        "dlbcl": _count("DES-03/dlbcl"),
        "prior_lines_gt3": _count("DES-03/prior_lines_gt3"),
        "transplanted": _count("DES-03/transplanted"),
        "aaipi": (_count("DES-03/aaipi_2_3"), _implied_n("DES-03/aaipi_2_3_pct")),
        "ecog_share": float(_lookup("DES-03/ecog_ge2_pct")["value"]) / 100,
        "bridging": [_count(f"DES-04/bridging_{b}") for b in BRIDGING],
        "pd_at_infusion": (_count("DES-04/pd_at_infusion"), _implied_n("DES-04/pd_at_infusion_pct")),
        "high_ldh": (_count("DES-04/high_ldh"), _implied_n("DES-04/high_ldh_pct")),
        "nonprogressive": _count("DES-05/nonprogressive"),
        "np_response": [_count(f"DES-05/np_{c}") for c in ("cr", "pr", "sd")],
        "salvage": [*salvage, _count("DES-06/salvage") - sum(salvage)],
        "response": [*response, _count("DES-07/evaluable") - sum(response)],
        "radiotherapy_localized": _count("DES-13/radiotherapy_localized_n"),
    }


@cache
def _design() -> Mapping[str, Any]:
    return design()


def _committed() -> dict[str, float]:
    from .. import calibrate

    return calibrate.load(PAPER)["params"]


def load(overrides: Mapping[str, Any] | None = None, calibrated: Mapping[str, Any] | None = None,
         n_multiplier: int = 1) -> shared.Settings:  # fmt: skip
    """Design, assumptions (with ``overrides``) and calibrated parameters (``calibrated``, else the
    committed fit), every printed size times ``n_multiplier``."""
    return shared.build(PAPER, _design(), overrides=overrides, calibrated=calibrated,
                        n_multiplier=n_multiplier, load_calibrated=_committed)  # fmt: skip


def assumed_table():
    """The assumptions for display: value, what the sensitivity analysis moves it over (a range or
    the alternatives of a choice), the printed numbers it was worked out from, and why."""
    import pandas as pd

    from .. import assumptions

    rows = []
    for name, a in assumptions.entries(PAPER).items():
        moves = (f"{a.range[0]:g} to {a.range[1]:g}" if a.range is not None
                 else "or " + ", ".join(map(str, a.alternatives)) if a.alternatives else f"fixed: {a.fixed}")  # fmt: skip
        rows.append({"assumption": name, "value": a.value, "unit": a.unit or "", "moves over": moves,
                     "derived from": ", ".join(a.derived_from), "why": a.why})  # fmt: skip
    return pd.DataFrame(rows).set_index("assumption")
