"""The virtual cohort: between-patient variability and a causal model on top of the kinetics.

Causal model (drawn by ``figures.dag``): tumor burden -> inflammation (IL-6), tumor IFN signalling
and blood M-MDSC -> CAR T expansion (the CAR T carrying capacity K_C of the kinetic model) ->
tumor control; burden also acts directly, because more tumor cells must be killed. Ferritin is
a bystander: burden raises it, it does nothing. Growth rate r_B varies independently. These
arrows are assumptions, several of them set to give the review's directions
(``derived_from`` in data/assumed/ventin.yaml), so those claims hold here by construction.

``simulate(rng, settings)`` draws all of a cohort's randomness (standard-normal noise per patient,
one stream per source of variability) and returns a ``Cohort``; the kinetics are solved when a
cohort's patients are first needed (``Cohort.patients``), or for a whole batch of replicate
cohorts at once (``realise`` on their concatenated noise, as ``analysis.analyse`` does). A what-if
(debulking, treatment at minimal residual disease) re-uses the same noise, so the difference
between arms is the effect of the intervention alone (common random numbers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from ..params import ParameterError, check_fraction, check_positive
from . import kinetics

MARKERS = ("il6", "ifn", "mdsc", "ferritin")
NOISE_KEYS = ("burden", "growth", "expansion", *MARKERS, "crs", "icans")
CAR_T_DAYS = (7, 14, 28, 90)  # days of the ZUMA-1 blood CAR T counts
ML_PER_CELL = 1e-9  # about 1e9 tumor cells per mL (Kimmel et al. 2021: 94.86 mL <-> 9.486e10 cells)
KINETIC = ("K_N", "r_N", "rho_C", "a", "b", "gamma_B", "k_B", "N0", "C0", "h_B")  # shared by all patients
DURABLE_RULES = ("no progression by durable_days", "eradicated by durable_days")


@dataclass(eq=False)
class Cohort:
    """One simulated cohort: its noise (all its randomness) and the settings it is realised under."""

    noise: dict[str, np.ndarray]
    settings: Mapping[str, Any]
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.noise["burden"])

    @property
    def patients(self) -> pd.DataFrame:
        """Covariates, kinetic summaries, response, PFS and toxicity, one row per patient."""
        if "patients" not in self._cache:
            self._cache["patients"] = realise(self.noise, self.settings)
        return self._cache["patients"]

    @property
    def debulked(self) -> pd.DataFrame:
        """The same patients had bridging radiotherapy debulked every bulky one (VEN-04)."""
        if "debulked" not in self._cache:
            self._cache["debulked"] = what_if(self.noise, self.settings, debulk_factor(self.noise, self.settings),
                                              self.patients)  # fmt: skip
        return self._cache["debulked"]

    def at_mrd(self) -> pd.DataFrame:
        """The same patients treated at minimal residual disease (burden x ``mrd_factor``)."""
        return realise(self.noise, self.settings, burden_factor=self.settings["mrd_factor"])


def size(settings: Mapping[str, Any]) -> int:
    """Patients per cohort: the ZUMA-1 size (assumed ``cohort_size``) times ``n_multiplier``."""
    return int(settings["cohort_size"]) * int(getattr(settings, "n_multiplier", 1))


def draw_noise(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Standard-normal noise per patient, one stream per source of variability."""
    check_positive("n", n, integer=True, upper=1_000_000)
    if not isinstance(rng, np.random.Generator):
        raise ParameterError("rng must be a numpy.random.Generator (np.random.default_rng(seed))")
    z = rng.standard_normal((len(NOISE_KEYS), n))
    return dict(zip(NOISE_KEYS, z, strict=True))


def simulate(rng: np.random.Generator, settings: Mapping[str, Any]) -> Cohort:
    """One cohort of ``size(settings)`` patients; all randomness from ``rng``."""
    return Cohort(draw_noise(rng, size(settings)), settings)


def concatenate(cohorts: Sequence[Cohort]) -> dict[str, np.ndarray]:
    """The noise of equal-size cohorts end to end (for one kinetic solve of a whole batch)."""
    sizes = {len(c) for c in cohorts}
    if len(sizes) != 1:
        raise ParameterError(f"cohorts of one batch must have one size; got {sorted(sizes)}")
    return {k: np.concatenate([c.noise[k] for c in cohorts]) for k in NOISE_KEYS}


def _covariates(noise: Mapping[str, np.ndarray], s: Mapping[str, Any], bf: np.ndarray) -> dict[str, np.ndarray]:
    log_b0 = np.log(s["B0_median_cells"]) + s["burden_log_sd"] * noise["burden"] + np.log(bf)
    z_b = (log_b0 - np.log(s["B0_median_cells"])) / s["burden_log_sd"]  # burden in SD units
    out = {"log_b0": log_b0, "log_burden": z_b}
    for m in MARKERS:
        lam = check_fraction(f"{m}_on_burden", s[f"{m}_on_burden"])
        out[m] = lam * z_b + np.sqrt(1 - lam**2) * noise[m]
    out["log_kc_shift"] = (
        s["expansion_shift"] + s["expansion_log_sd"] * noise["expansion"]
        - s["expansion_per_il6"] * out["il6"] - s["expansion_per_ifn"] * out["ifn"]
        - s["expansion_per_mdsc"] * out["mdsc"]
    )  # fmt: skip
    lo, hi = s["growth_range"]
    out["growth_rate"] = np.clip(s["growth_median"] * np.exp(s["growth_log_sd"] * noise["growth"]), lo, hi)
    return out


def realise(noise: Mapping[str, np.ndarray], s: Mapping[str, Any], *,
            burden_factor: np.ndarray | float = 1.0) -> pd.DataFrame:  # fmt: skip
    """Turn noise into patients: covariates, kinetic summaries, response, PFS and toxicity.

    ``burden_factor`` multiplies each patient's tumor burden before infusion (1 = as drawn;
    0.3 = 70% of the tumor removed); markers and expansion follow the new burden through the
    causal model.
    """
    bf = np.broadcast_to(np.asarray(burden_factor, float), noise["burden"].shape)
    if np.any(bf <= 0) or np.any(bf > 1):
        raise ParameterError("burden_factor must lie in (0, 1]")
    cov = _covariates(noise, s, bf)
    kin = {k: s[k] for k in KINETIC}
    kin.update(K_C=s["K_C"] * np.exp(cov["log_kc_shift"]), r_B=cov["growth_rate"], B0=np.exp(cov["log_b0"]))
    days = s["followup_days"]
    out = kinetics.summary(kin, days=days, car_t_days=CAR_T_DAYS)
    if s["durable_definition"] not in DURABLE_RULES:
        raise ParameterError(f"durable_definition={s['durable_definition']!r}: one of {DURABLE_RULES}")
    horizon = s["durable_days"]
    if s["durable_definition"] == DURABLE_RULES[0]:
        durable = out["cured"] | (out["progression_day"] > horizon)
    else:
        durable = out["cured_day"] <= horizon
    df = pd.DataFrame({
        "burden_cells": np.exp(cov["log_b0"]), "burden_ml": np.exp(cov["log_b0"]) * ML_PER_CELL,
        "log_burden": cov["log_burden"], "growth_rate": cov["growth_rate"], "log_kc_shift": cov["log_kc_shift"],
        **{m: cov[m] for m in MARKERS}, **out, "durable": durable,
    })  # fmt: skip
    df["log_ratio"] = np.log(df.peak_car_t) - np.log(df.burden_cells)
    df["pfs_days"] = np.minimum(df.progression_day, days)
    df["pfs_event"] = np.isfinite(df.progression_day) & (df.progression_day <= days)
    for tox in ("crs", "icans"):
        df[f"{tox}_risk"] = toxicity_risk(df, s, tox)
        # a latent-logistic draw: severe when the patient's own threshold lies below the risk
        df[f"severe_{tox}"] = ndtr(noise[tox]) < df[f"{tox}_risk"]
    return df


def what_if(noise: Mapping[str, np.ndarray], s: Mapping[str, Any], burden_factor: np.ndarray,
            base: pd.DataFrame) -> pd.DataFrame:  # fmt: skip
    """``realise`` with ``burden_factor``, solving only the patients it changes (the rest are ``base``)."""
    bf = np.asarray(burden_factor, float)
    changed = np.flatnonzero(bf != 1.0)
    out = base.copy()
    if changed.size:
        sub = realise({k: v[changed] for k, v in noise.items()}, s, burden_factor=bf[changed])
        for c in out.columns:
            col = out[c].to_numpy(copy=True)
            col[changed] = sub[c].to_numpy()
            out[c] = col
    return out


def debulk_factor(noise: Mapping[str, np.ndarray], s: Mapping[str, Any]) -> np.ndarray:
    """Burden multiplier of bridging radiotherapy: bulky patients lose ``debulk_fraction``."""
    burden_ml = s["B0_median_cells"] * np.exp(s["burden_log_sd"] * noise["burden"]) * ML_PER_CELL
    return np.where(burden_ml > s["bulky_ml"], 1 - s["debulk_fraction"], 1.0)


def toxicity_risk(df: pd.DataFrame, s: Mapping[str, Any], tox: str) -> np.ndarray:
    """P(grade >= 3) = expit(intercept + OR-per-SD terms of log burden and log peak expansion).

    Intercepts are calibrated to the ZUMA-1 grade >= 3 rates; the slopes are assumptions.
    """
    z_peak = (np.log(df.peak_car_t.to_numpy()) - s["log_peak_ref_mean"]) / s["log_peak_ref_sd"]
    return expit(s[f"{tox}_intercept"] + np.log(s[f"{tox}_or_per_sd_burden"]) * df.log_burden.to_numpy()
                 + np.log(s[f"{tox}_or_per_sd_peak"]) * z_peak)  # fmt: skip


def trajectories(noise: Mapping[str, np.ndarray], s: Mapping[str, Any], days: float = 120.0) -> kinetics.Trajectories:
    """Daily CAR T and tumor trajectories of these patients (RK4; for figures)."""
    cov = _covariates(noise, s, np.ones_like(noise["burden"]))
    kin = {k: s[k] for k in KINETIC}
    kin.update(K_C=s["K_C"] * np.exp(cov["log_kc_shift"]), r_B=cov["growth_rate"], B0=np.exp(cov["log_b0"]))
    return kinetics.solve(kin, days=days, dt=1.0)
