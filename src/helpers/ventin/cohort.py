"""The virtual cohort: between-patient variability and a causal model on top of the kinetics.

Causal model (drawn by ``dag.draw``): tumor burden -> inflammation (IL-6), tumor IFN signalling
and blood M-MDSC -> CAR T expansion (the CAR T carrying capacity K_C of the kinetic model) ->
tumor control; burden also acts directly, because more tumor cells must be killed. Ferritin is
a bystander: burden raises it, it does nothing. Growth rate r_B varies independently.

Randomness is drawn once per patient (``draw_noise``) and turned into a cohort by ``realise``;
a what-if (debulking) re-uses the same noise, so the difference between arms is the effect of
the intervention alone (common random numbers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from .. import assumptions
from ..params import ParameterError, check_fraction, check_positive
from . import model

PAPER = "ventin"
MARKERS = ("il6", "ifn", "mdsc", "ferritin")
NOISE_KEYS = ("burden", "growth", "expansion", *MARKERS, "crs", "icans")
CAR_T_DAYS = (7, 14, 28, 90)  # days of the ZUMA-1 blood CAR T counts
SOLVER_DT = 1.0  # days; RK4 in log space agrees with LSODA to < 2e-3 in log cells at this step (tested)
ML_PER_CELL = 1e-9  # about 1e9 tumor cells per mL (Kimmel et al. 2021: 94.86 mL <-> 9.486e10 cells)


def settings(overrides: dict[str, Any] | None = None, calibrated: dict[str, Any] | None = None) -> dict:
    """Assumed values (data/assumed/ventin.yaml), then calibrated ones, then ``overrides``."""
    values = assumptions.load(PAPER)
    values.update(calibrated or {})
    for k, v in (overrides or {}).items():
        if k not in values:
            raise ParameterError(f"no setting named {k!r}; known: {', '.join(sorted(values))}")
        values[k] = v
    return values


def draw_noise(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Standard-normal noise per patient, one stream per source of variability."""
    check_positive("n", n, integer=True, upper=1_000_000)
    if not isinstance(rng, np.random.Generator):
        raise ParameterError("rng must be a numpy.random.Generator (np.random.default_rng(seed))")
    z = rng.standard_normal((len(NOISE_KEYS), n))
    return dict(zip(NOISE_KEYS, z, strict=True))


def realise(noise: dict[str, np.ndarray], s: dict[str, Any], *,
            burden_factor: np.ndarray | float = 1.0, days: float = 365.0,
            keep_trajectories: bool = False) -> pd.DataFrame:  # fmt: skip
    """Turn noise into patients: covariates, kinetic solution summaries and toxicity risks.

    ``burden_factor`` multiplies each patient's tumor burden before infusion (1 = as drawn;
    0.3 = 70% of the tumor removed); markers and expansion follow the new burden through the
    causal model. ``keep_trajectories=True`` returns the kinetic solution instead.
    """
    bf = np.broadcast_to(np.asarray(burden_factor, float), noise["burden"].shape)
    if np.any(bf <= 0) or np.any(bf > 1):
        raise ParameterError("burden_factor must lie in (0, 1]")
    log_b0 = np.log(s["B0_median_cells"]) + s["burden_log_sd"] * noise["burden"] + np.log(bf)
    z_b = (log_b0 - np.log(s["B0_median_cells"])) / s["burden_log_sd"]  # burden in SD units
    markers = {}
    for m in MARKERS:
        lam = check_fraction(f"{m}_on_burden", s[f"{m}_on_burden"])
        markers[m] = lam * z_b + np.sqrt(1 - lam**2) * noise[m]
    log_kc_shift = (
        s["expansion_shift"] + s["expansion_log_sd"] * noise["expansion"]
        - s["expansion_per_il6"] * markers["il6"] - s["expansion_per_ifn"] * markers["ifn"]
        - s["expansion_per_mdsc"] * markers["mdsc"]
    )  # fmt: skip
    lo, hi = s["growth_range"]
    r_b = np.clip(s["growth_median"] * np.exp(s["growth_log_sd"] * noise["growth"]), lo, hi)
    kin = {k: s[k] for k in ("K_N", "r_N", "rho_C", "a", "b", "gamma_B", "k_B", "N0", "C0", "h_B")}
    kin.update(K_C=s["K_C"] * np.exp(log_kc_shift), r_B=r_b, B0=np.exp(log_b0))
    tr = model.solve(kin, days=days, dt=SOLVER_DT)
    if keep_trajectories:
        return tr
    out = model.outcomes(tr, horizon_days=s["durable_days"])
    df = pd.DataFrame({
        "burden_cells": np.exp(log_b0), "burden_ml": np.exp(log_b0) * ML_PER_CELL,
        "log_burden": z_b, "growth_rate": r_b, "log_kc_shift": log_kc_shift,
        **{m: markers[m] for m in MARKERS}, **out,
    })  # fmt: skip
    for d in CAR_T_DAYS:
        df[f"car_t_d{d}"] = tr.C[:, np.searchsorted(tr.t, d)]
    df["log_ratio"] = np.log(df.peak_car_t) - np.log(df.burden_cells)
    day = np.clip(df.progression_day, None, days)
    df["pfs_days"] = day
    df["pfs_event"] = np.isfinite(df.progression_day) & (df.progression_day <= days)
    for tox in ("crs", "icans"):
        df[f"{tox}_risk"] = toxicity_risk(df, s, tox)
        # a latent-logistic draw: severe when the patient's own threshold lies below the risk
        u = ndtr(noise[tox])
        df[f"severe_{tox}"] = u < df[f"{tox}_risk"]
    return df


def toxicity_risk(df: pd.DataFrame, s: dict[str, Any], tox: str) -> np.ndarray:
    """P(grade >= 3) = expit(intercept + OR-per-SD terms of log burden and log peak expansion).

    Intercepts are calibrated to the ZUMA-1 grade >= 3 rates; the slopes are assumptions.
    """
    log_peak = np.log(df.peak_car_t.to_numpy())
    z_peak = (log_peak - s["log_peak_ref_mean"]) / s["log_peak_ref_sd"]
    return expit(s[f"{tox}_intercept"] + np.log(s[f"{tox}_or_per_sd_burden"]) * df.log_burden.to_numpy()
                 + np.log(s[f"{tox}_or_per_sd_peak"]) * z_peak)  # fmt: skip


def simulate(rng: np.random.Generator, n: int, s: dict[str, Any]) -> pd.DataFrame:
    """One cohort of ``n`` patients."""
    return realise(draw_noise(rng, n), s, days=s["followup_days"])
