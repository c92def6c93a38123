"""Generative model of Figura et al. 2021: patients -> pretreatment lesions -> lesion fates.

Each patient carries a count of pretreatment lesions (the lesion cohort's counts add up to the
469 printed), three binary lesion features (diameter >= 5 cm, SUVmax >= 10, extranodal) drawn
from latent normals with a patient-level component (within-patient correlation), and a
patient random effect ``u`` of local failure. Every lesion fails locally with
``logit p = intercept + sum(logor * feature) + sigma * u``; a de novo failure (new lesion) has
``logit = denovo_intercept + denovo_loading * sigma * u``. A patient *fails* if any lesion fails
locally or a de novo lesion appears; the failure is *observed* when it comes before the end of
follow-up. Recurrence, local component, strictly local failure and retained resolution are all
read off the lesions — never drawn on their own.

The survival cohort is the lesion cohort plus ``survival_extra_patients`` more patients drawn
from the same model (their lesions are not part of the 469). PFS is the observed failure;
OS adds post-failure survival whose rate comes from ZUMA-1 (see ``timing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from .. import assumptions

N_PATIENTS = 63  # Figura et al. 2021, Abstract, Results (lesion analysis); the ledger holds the token
N_LESIONS = 469  # idem; tests compare both with the ledger
FEATURES = ("size_ge5cm", "suvmax_ge10", "extranodal")
PAPER = "figura"


@dataclass(frozen=True)
class Timing:
    """Failure and post-failure death rates (per month) derived from ZUMA-1's printed figures."""

    fail_rate: float  # exponential rate of time to failure among patients who fail
    salvage: float  # share of failing patients alive long term
    death_rate: float  # exponential rate of death after failure (non-salvaged)


def timing_from(pfs_median: float, pfs_plateau: float, os_median: float, os_plateau: float) -> Timing:
    """Cure-model rates that reproduce a PFS median and plateau and an OS median and plateau.

    PFS(t) = c + (1 - c) exp(-a t) with c the PFS plateau gives ``a`` from the PFS median.
    Failing patients are salvaged with probability s = (OS plateau - c) / (1 - c); the others
    die at T + D, D ~ Exp(b), and ``b`` is solved so that OS(os_median) = 0.5.
    """
    c = pfs_plateau
    a = -np.log((0.5 - c) / (1 - c)) / pfs_median
    s = (os_plateau - c) / (1 - c)
    need = (0.5 - os_plateau) / ((1 - c) * (1 - s))  # P(T + D > os_median) required

    def tail(b: float) -> float:  # P(T + D > t) for T ~ Exp(a), D ~ Exp(b), a != b
        t = os_median
        return (b * np.exp(-a * t) - a * np.exp(-b * t)) / (b - a) - need

    b = optimize.brentq(tail, 1e-4, a * 0.999)
    return Timing(fail_rate=float(a), salvage=float(s), death_rate=float(b))


@cache
def default_timing() -> Timing:
    v = assumptions.load(PAPER)
    return timing_from(v["pfs_median_months"], v["pfs_plateau"], v["os_median_months"], v["os_plateau"])


def observed_share(fail_rate: float, followup_median: float, halfwidth: float) -> float:
    """P(T <= C) for T ~ Exp(fail_rate), C ~ Uniform(median -/+ halfwidth): failures seen in time."""
    lo, hi = followup_median - halfwidth, followup_median + halfwidth
    return float(1 - (np.exp(-fail_rate * lo) - np.exp(-fail_rate * hi)) / (fail_rate * (hi - lo)))


# ---------------------------------------------------------------- lesions and their features


def lesion_counts(rng: np.random.Generator, n_patients: int, total: int, concentration: float,
                  n_extra: int = 0) -> np.ndarray:  # fmt: skip
    """Lesions per patient: the first ``n_patients`` add up to ``total`` (at least 1 each).

    Dirichlet-multinomial spread of the ``total - n_patients`` lesions beyond the first; the
    ``n_extra`` survival-only patients get 1 + gamma-Poisson counts with the same mean and shape
    (the large-cohort limit of the same spread).
    """
    extra = total - n_patients
    shares = rng.dirichlet(np.full(n_patients, concentration))
    counts = 1 + rng.multinomial(extra, shares)
    if n_extra:
        lam = rng.gamma(concentration, extra / n_patients / concentration, size=n_extra)
        counts = np.concatenate([counts, 1 + rng.poisson(lam)])
    return counts


def thresholds(prevalences: np.ndarray) -> np.ndarray:
    """Latent-normal cut-offs giving each feature its lesion-level prevalence."""
    return stats.norm.isf(np.asarray(prevalences, float))


def lesion_features(rng: np.random.Generator, counts: np.ndarray, prevalences, rho_patient: float,
                    rho_size_suv: float) -> np.ndarray:  # fmt: skip
    """Binary features (lesions x 3) from latents sqrt(rho) z_patient + sqrt(1 - rho) e_lesion."""
    n_pat, n_les = counts.size, int(counts.sum())
    z = rng.standard_normal((n_pat, 3))
    e = rng.standard_normal((n_les, 3))
    # size and SUVmax correlated within a lesion; extranodal independent of both
    e[:, 1] = rho_size_suv * e[:, 0] + np.sqrt(1 - rho_size_suv**2) * e[:, 1]
    latent = np.sqrt(rho_patient) * np.repeat(z, counts, axis=0) + np.sqrt(1 - rho_patient) * e
    return (latent > thresholds(prevalences)).astype(np.int8)


# ---------------------------------------------------------------- the cohort


@dataclass
class Cohort:
    """One simulated study: lesions (lesion cohort only) and patients (survival cohort)."""

    lesions: pd.DataFrame  # patient, size_ge5cm, suvmax_ge10, extranodal, local_failure
    patients: pd.DataFrame  # one row per survival-cohort patient; ``in_lesion_analysis`` marks the 63


def parameters(calibrated: dict, overrides: dict | None = None) -> dict:
    """Everything the simulator needs: assumed values (with overrides) and calibrated ones."""
    p = dict(assumptions.load(PAPER, overrides))
    p.update(calibrated)
    return p


def simulate(rng: np.random.Generator, p: dict, timing: Timing | None = None) -> Cohort:
    """One study of ``N_PATIENTS`` lesion-analysis patients plus the survival-only extras."""
    timing = timing or default_timing()
    n_extra = int(p["survival_extra_patients"])
    counts = lesion_counts(rng, N_PATIENTS, N_LESIONS, p["lesion_count_concentration"], n_extra)
    n_all = counts.size
    prev = [p["prev_ge5cm"], p["prev_suvmax_ge10"], p["prev_extranodal"]]
    x = lesion_features(rng, counts, prev, p["feature_within_patient_rho"], p["size_suv_rho"])
    pid = np.repeat(np.arange(n_all), counts)
    u = rng.standard_normal(n_all)
    logor = np.array([p["lf_logor_size"], p["lf_logor_suv"], p["lf_logor_extranodal"]])
    eta = p["lf_intercept"] + x @ logor + p["lf_sigma"] * u[pid]
    lf = rng.random(pid.size) < special.expit(eta)
    denovo = rng.random(n_all) < special.expit(p["denovo_intercept"] + p["denovo_loading"] * p["lf_sigma"] * u)
    any_lf = np.bincount(pid, weights=lf, minlength=n_all) > 0
    fails = any_lf | denovo
    t_fail = rng.exponential(1 / timing.fail_rate, n_all)
    half = p["followup_halfwidth"]
    followup = rng.uniform(p["followup_median"] - half, p["followup_median"] + half, n_all)
    salvaged = rng.random(n_all) < timing.salvage
    t_death = t_fail + rng.exponential(1 / timing.death_rate, n_all)
    seen = fails & (t_fail <= followup)
    died = seen & ~salvaged & (t_death <= followup)
    lf_seen = lf & seen[pid]
    n_lf = np.bincount(pid, weights=lf_seen, minlength=n_all).astype(int)
    any_big = np.bincount(pid, weights=x[:, 0], minlength=n_all) > 0
    patients = pd.DataFrame({
        "patient": np.arange(n_all), "in_lesion_analysis": np.arange(n_all) < N_PATIENTS,
        "n_lesions": counts, "any_ge5cm": any_big.astype(int), "u": u,
        "recurred": seen.astype(int), "n_local": n_lf, "denovo": (denovo & seen).astype(int),
        "pfs_time": np.where(seen, t_fail, followup), "pfs_event": seen.astype(int),
        "os_time": np.where(died, t_death, followup), "os_event": died.astype(int),
        "followup": followup,
    })  # fmt: skip
    add_patterns(patients)
    keep = pid < N_PATIENTS  # the survival-only patients' lesions are not among the 469
    lesions = pd.DataFrame(x[keep], columns=list(FEATURES))
    lesions.insert(0, "patient", pid[keep])
    lesions["local_failure"] = lf_seen[keep].astype(int)
    return Cohort(lesions=lesions, patients=patients)


def add_patterns(patients: pd.DataFrame) -> None:
    """Patient patterns read off the lesions: local component, strictly local, retained resolution."""
    rec = patients["recurred"] == 1
    local = patients["n_local"] > 0
    patients["local_component"] = (rec & local).astype(int)
    patients["strictly_local"] = (rec & local & (patients["denovo"] == 0)).astype(int)
    patients["denovo_only"] = (rec & ~local).astype(int)
    # a lesion with no local failure keeps its resolution (assumption resolved_if_not_failed)
    patients["retained_resolution"] = (rec & (patients["n_local"] < patients["n_lesions"])).astype(int)


def lesion_patterns(cohort: Cohort) -> dict[str, int]:
    """Patient counts of FIG-01 ... FIG-05 in the lesion cohort (from the lesion outcomes)."""
    pt = cohort.patients[cohort.patients.in_lesion_analysis]
    return {
        "patients": int(len(pt)), "lesions": int(len(cohort.lesions)),
        "recurred": int(pt.recurred.sum()), "local_component": int(pt.local_component.sum()),
        "strictly_local": int(pt.strictly_local.sum()), "denovo_only": int(pt.denovo_only.sum()),
        "retained_resolution": int(pt.retained_resolution.sum()),
    }  # fmt: skip
