"""Calibration of the Ventin virtual cohort to external ZUMA-1 numbers (never to the review).

The review prints no numbers, so no ledger item is fitted: ``TARGETS`` is empty and every item's
role comes from the assumptions' ``derived_from`` (data/assumed/ventin.yaml). The fit's own
targets are external (``EXTERNAL_TARGETS``, values in data/assumed/ventin.yaml with citations):

- ZUMA-1 median PFS 5.9 months -> ``expansion_shift`` (population level of CAR T expansion);
- blood CAR T median at day 7, 27.5 cells/uL -> ``blood_fraction`` (cells in blood / body);
- grade >= 3 CRS 11% and neurologic events 31% -> ``crs_intercept``, ``icans_intercept``;
- ``log_peak_ref_mean``/``sd`` (the mean and SD of log peak CAR T, which standardise it in the
  toxicity link) are moments of the fitted cohort, not fitted to a target.

Each target is met by its own parameter (one-dimensional root finding, ``brentq``), in order, on
one fixed cohort of ``SETTINGS["patients"]`` drawn from its own seed (common random numbers, and
independent of every notebook's generator). Everything else (the CAR T counts at days 14, 28 and
90, the Dean et al. HR) is held out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from ..params import ParameterError
from . import model
from .settings import load

TARGETS: tuple[str, ...] = ()  # ledger items fitted: none (the review prints no numbers)
# the fit's own (external) targets: name -> (assumption holding the published value, parameter it sets)
EXTERNAL_TARGETS: dict[str, tuple[str, str]] = {
    "zuma1_median_pfs_months": ("external_zuma1_median_pfs_months", "expansion_shift"),
    "zuma1_car_t_day7_median": ("external_zuma1_car_t_median", "blood_fraction"),
    "zuma1_severe_crs": ("external_zuma1_severe_crs", "crs_intercept"),
    "zuma1_severe_icans": ("external_zuma1_severe_icans", "icans_intercept"),
}
FREE = ("expansion_shift", "blood_fraction", "crs_intercept", "icans_intercept", "log_peak_ref_mean", "log_peak_ref_sd")
# seed 1109 (the review's publication date), distinct from the notebook's seed: the calibration
# cohort and the notebook's cohorts never share draws
SETTINGS = {"seed": 1109, "patients": 4000, "days_per_month": 30.4375, "bracket": 0.25, "xtol": 1e-4,
            "pfs_tolerance_months": 0.05}  # fmt: skip


def _noise() -> dict[str, np.ndarray]:
    return model.draw_noise(np.random.default_rng(SETTINGS["seed"]), SETTINGS["patients"])


def _root(f, start: float, half_width: float, xtol: float) -> tuple[float, bool]:
    """A root of ``f`` from a bracket around ``start``, widened until the sign changes."""
    lo, hi = start - half_width, start + half_width
    for _ in range(12):
        f_lo, f_hi = f(lo), f(hi)
        if f_lo * f_hi <= 0:
            x, res = brentq(f, lo, hi, xtol=xtol, full_output=True)
            return float(x), bool(res.converged)
        half_width *= 2
        lo, hi = start - half_width, start + half_width
    return float(start), False


def calibrate(settings: Mapping[str, Any] | None = None, start: Mapping[str, float] | None = None,
              targets: Iterable[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Fit ``FREE`` to the external ZUMA-1 targets (all of ``EXTERNAL_TARGETS``, or ``targets``).

    ``settings``: a ``helpers.settings.Settings`` whose assumptions to fit under (default: the
    committed assumptions; its calibrated part is ignored). ``start``: warm start (values of ``FREE``). A target left out keeps its
    parameter at the start (or assumed) value, and is reported with weight 0 and its residual.
    """
    wanted = list(EXTERNAL_TARGETS) if targets is None else list(targets)
    unknown = sorted(set(wanted) - set(EXTERNAL_TARGETS) - set(TARGETS))
    if unknown:
        raise ParameterError(f"unknown calibration target(s) {unknown}; known: {sorted(EXTERNAL_TARGETS)}")
    base = load(calibrated={}) if settings is None else settings
    assumed = dict(base.assumed)
    params = {name: float((start or {}).get(name, assumed[name])) for name in FREE}
    noise = _noise()
    converged = True
    pfs_days = assumed["external_zuma1_median_pfs_months"] * SETTINGS["days_per_month"]

    def with_params(**kw):
        return base.with_calibrated({**params, **kw})

    if "zuma1_median_pfs_months" in wanted:
        def progressed_by_target(shift: float) -> float:
            df = model.realise(noise, with_params(expansion_shift=shift))
            return float(np.mean(df.progression_day <= pfs_days)) - 0.5

        params["expansion_shift"], ok = _root(progressed_by_target, params["expansion_shift"],
                                              SETTINGS["bracket"], SETTINGS["xtol"])  # fmt: skip
        converged &= ok
    df = model.realise(noise, with_params())
    log_peak = np.log(df.peak_car_t.to_numpy())
    params["log_peak_ref_mean"], params["log_peak_ref_sd"] = float(log_peak.mean()), float(log_peak.std())
    day7 = float(np.median(df.car_t_d7))
    target7 = assumed["external_zuma1_car_t_median"][0]
    if "zuma1_car_t_day7_median" in wanted:
        params["blood_fraction"] = target7 * assumed["blood_volume_ul"] / day7
    z_peak = (log_peak - params["log_peak_ref_mean"]) / params["log_peak_ref_sd"]
    lin = {tox: np.log(assumed[f"{tox}_or_per_sd_burden"]) * df.log_burden.to_numpy()
           + np.log(assumed[f"{tox}_or_per_sd_peak"]) * z_peak for tox in ("crs", "icans")}  # fmt: skip
    for tox in ("crs", "icans"):
        if f"zuma1_severe_{tox}" in wanted:
            rate = assumed[f"external_zuma1_severe_{tox}"]
            params[f"{tox}_intercept"], ok = _root(lambda c, x=lin[tox], r=rate: float(np.mean(expit(c + x))) - r,
                                                   params[f"{tox}_intercept"], 1.0, 1e-10)  # fmt: skip
            converged &= ok
    fitted = {
        "zuma1_median_pfs_months": float(np.median(np.where(df.pfs_event, df.pfs_days, np.inf))) / SETTINGS["days_per_month"],
        "zuma1_car_t_day7_median": day7 * params["blood_fraction"] / assumed["blood_volume_ul"],
        "zuma1_severe_crs": float(np.mean(expit(params["crs_intercept"] + lin["crs"]))),
        "zuma1_severe_icans": float(np.mean(expit(params["icans_intercept"] + lin["icans"]))),
    }  # fmt: skip
    rows = []
    for name, (key, _param) in EXTERNAL_TARGETS.items():
        reported = assumed[key][0] if isinstance(assumed[key], list) else assumed[key]
        rows.append({"claim_id": "external", "item": name, "reported": float(reported), "fitted": fitted[name],
                     "weight": 1.0 if name in wanted else 0.0, "residual": fitted[name] - float(reported)})  # fmt: skip
    pfs = rows[0]
    if "zuma1_median_pfs_months" in wanted:  # a median of a finite cohort: met to about a day
        converged &= abs(pfs["residual"]) <= SETTINGS["pfs_tolerance_months"]
    objective = float(sum(r["weight"] * (r["residual"] / r["reported"]) ** 2 for r in rows))
    return {"params": params, "targets": rows, "objective": objective, "converged": bool(converged),
            "settings": SETTINGS}  # fmt: skip


def table(fit: Mapping[str, Any]) -> pd.DataFrame:
    """A fit's targets for display: published value, fitted value, residual, and the parameter set."""
    df = pd.DataFrame(fit["targets"]).set_index("item")[["reported", "fitted", "residual", "weight"]]
    df["parameter"] = [EXTERNAL_TARGETS[i][1] for i in df.index]
    return df
