"""Generative model of Figura et al. 2021: patients -> pretreatment lesions -> lesion fates.

Each patient carries a count of pretreatment lesions (the lesion cohort's counts add up to the
printed 469), three binary lesion features (diameter >= 5 cm, SUVmax >= 10, extranodal) drawn
from latent normals with a patient-level component (within-patient correlation), and a
patient random effect ``u`` of local failure. Every lesion fails locally with
``logit p = lf_intercept + sum(logor * feature) + lf_sigma * u``; a de novo failure (new lesion)
has ``logit = denovo_intercept + denovo_loading * lf_sigma * u``. A patient *fails* if any lesion
fails locally or a de novo lesion appears; the failure is *observed* when it comes before the
end of follow-up. Recurrence, local component, strictly local failure and retained resolution
are all read off the lesions — never drawn on their own.

The survival cohort is the lesion cohort plus the patients the survival analysis has beyond it
(69 - 63, both printed sizes), drawn from the same model (their lesions are not among the 469).
PFS is the observed failure; OS adds post-failure survival at rates from ZUMA-1 (``timing``).
Everything comes from ``settings`` (``helpers.figura.settings.load``); sizes are the printed
ones times ``settings.n_multiplier``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, cached_property

import numpy as np
import pandas as pd
from scipy import optimize, special

from ..settings import Settings

FEATURES = ("size_ge5cm", "suvmax_ge10", "extranodal")
LOGOR = {"size_ge5cm": "lf_logor_size", "suvmax_ge10": "lf_logor_suv", "extranodal": "lf_logor_extranodal"}
PREVALENCE = {"size_ge5cm": "prev_ge5cm", "suvmax_ge10": "prev_suvmax_ge10", "extranodal": "prev_extranodal"}


# ---------------------------------------------------------------- timing (ZUMA-1, external)


@dataclass(frozen=True)
class Timing:
    """Failure and post-failure death rates (per month) derived from ZUMA-1's printed figures."""

    fail_rate: float  # exponential rate of time to failure among patients who fail
    salvage: float  # share of failing patients alive long term
    death_rate: float  # exponential rate of death after failure (non-salvaged)


@cache
def timing_from(pfs_median: float, pfs_plateau: float, os_median: float, os_plateau: float) -> Timing:
    """Cure-model rates that reproduce a PFS median and plateau and an OS median and plateau.

    PFS(t) = c + (1 - c) exp(-a t) with c the PFS plateau gives ``a`` from the PFS median.
    Failing patients are salvaged with probability s = (OS plateau - c) / (1 - c); the others
    die at T + D, D ~ Exp(b), and ``b`` is solved so that OS(os_median) = 0.5 (possible when
    OS(os_median) could be 0.5 at all: with instant death after failure it would be
    c + (1 - c)(s + (1 - s) exp(-a os_median)), which must lie below 0.5).
    """
    c = pfs_plateau
    a = -np.log((0.5 - c) / (1 - c)) / pfs_median
    s = (os_plateau - c) / (1 - c)
    need = (0.5 - os_plateau) / ((1 - c) * (1 - s))  # P(T + D > os_median) required

    def tail(b: float) -> float:  # P(T + D > t) for T ~ Exp(a), D ~ Exp(b); falls as b grows
        t = os_median
        if abs(b - a) < 1e-9 * a:  # the Erlang limit b = a
            return np.exp(-a * t) * (1 + a * t) - need
        return (b * np.exp(-a * t) - a * np.exp(-b * t)) / (b - a) - need

    b = optimize.brentq(tail, 1e-6, 100.0, xtol=1e-14)
    return Timing(fail_rate=float(a), salvage=float(s), death_rate=float(b))


def timing(settings: Settings) -> Timing:
    """The cure-model rates of the assumed ZUMA-1 medians and plateaus in ``settings``."""
    return timing_from(*(float(settings[k]) for k in ("pfs_median_months", "pfs_plateau", "os_median_months",
                                                       "os_plateau")))  # fmt: skip


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


def thresholds(prevalences) -> np.ndarray:
    """Latent-normal cut-offs giving each feature its lesion-level prevalence."""
    return -special.ndtri(np.asarray(prevalences, float))  # = norm.isf


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


def prevalences(settings: Settings) -> list[float]:
    return [float(settings[PREVALENCE[f]]) for f in FEATURES]


# ---------------------------------------------------------------- the cohort

PATIENT_COLUMNS = ("patient", "in_lesion_analysis", "n_lesions", "any_ge5cm", "u", "recurred", "n_local", "denovo",
                   "pfs_time", "pfs_event", "os_time", "os_event", "followup", "local_component",
                   "strictly_local", "denovo_only", "retained_resolution")  # fmt: skip


@dataclass
class Cohort:
    """One simulated study, as arrays: lesions of the lesion cohort, patients of the survival cohort.

    ``lesion``: patient (sorted), the three features (lesions x 3, int8), local_failure;
    ``patient``: one array per name of ``PATIENT_COLUMNS`` (the lesion-analysis patients first).
    ``lesions`` and ``patients`` give the same as DataFrames (for the reference libraries).
    """

    lesion_patient: np.ndarray
    features: np.ndarray
    local_failure: np.ndarray
    patient: dict[str, np.ndarray] = field(repr=False)
    n_lesion_patients: int = 0

    @cached_property
    def lesions(self) -> pd.DataFrame:
        out = pd.DataFrame(self.features, columns=list(FEATURES))
        out.insert(0, "patient", self.lesion_patient)
        out["local_failure"] = self.local_failure
        return out

    @cached_property
    def patients(self) -> pd.DataFrame:
        return pd.DataFrame({k: self.patient[k] for k in PATIENT_COLUMNS})


def simulate(rng: np.random.Generator, settings: Settings) -> Cohort:
    """One study: the lesion-analysis patients with their lesions, plus the survival-only patients."""
    s = settings
    k = s.n_multiplier
    n_pat, n_les, n_all = (int(s[name]) * k for name in ("n_patients", "n_lesions", "n_survival"))
    t = timing(s)
    counts = lesion_counts(rng, n_pat, n_les, s["lesion_count_concentration"], n_all - n_pat)
    x = lesion_features(rng, counts, prevalences(s), s["feature_within_patient_rho"], s["size_suv_rho"])
    pid = np.repeat(np.arange(n_all), counts)
    u = rng.standard_normal(n_all)
    logor = np.array([s[LOGOR[f]] for f in FEATURES])
    eta = s["lf_intercept"] + x @ logor + s["lf_sigma"] * u[pid]
    lf = rng.random(pid.size) < special.expit(eta)
    denovo = rng.random(n_all) < special.expit(s["denovo_intercept"] + s["denovo_loading"] * s["lf_sigma"] * u)
    any_lf = np.bincount(pid, weights=lf, minlength=n_all) > 0
    fails = any_lf | denovo
    t_fail = rng.exponential(1 / t.fail_rate, n_all)
    half = s["followup_halfwidth"]
    followup = rng.uniform(s["followup_median"] - half, s["followup_median"] + half, n_all)
    salvaged = rng.random(n_all) < t.salvage
    t_death = t_fail + rng.exponential(1 / t.death_rate, n_all)
    seen = fails & (t_fail <= followup)
    died = seen & ~salvaged & (t_death <= followup)
    lf_seen = lf & seen[pid]
    n_lf = np.bincount(pid, weights=lf_seen, minlength=n_all).astype(int)
    any_big = np.bincount(pid, weights=x[:, 0], minlength=n_all) > 0
    recurred = seen.astype(np.int8)
    local = n_lf > 0
    dn = (denovo & seen).astype(np.int8)
    patient = {
        "patient": np.arange(n_all), "in_lesion_analysis": np.arange(n_all) < n_pat, "n_lesions": counts,
        "any_ge5cm": any_big.astype(np.int8), "u": u, "recurred": recurred, "n_local": n_lf, "denovo": dn,
        "pfs_time": np.where(seen, t_fail, followup), "pfs_event": recurred,
        "os_time": np.where(died, t_death, followup), "os_event": died.astype(np.int8), "followup": followup,
        # patterns read off the lesions
        "local_component": (seen & local).astype(np.int8),
        "strictly_local": (seen & local & ~(denovo & seen)).astype(np.int8),
        "denovo_only": (seen & ~local).astype(np.int8),
        # a lesion with no local failure keeps its resolution (assumption resolved_if_not_failed)
        "retained_resolution": (seen & (n_lf < counts)).astype(np.int8),
    }  # fmt: skip
    keep = pid < n_pat  # the survival-only patients' lesions are not among the 469
    return Cohort(pid[keep], x[keep], lf_seen[keep].astype(np.int8), patient, n_pat)


PATTERNS = ("recurred", "local_component", "strictly_local", "denovo_only", "retained_resolution")


def lesion_patterns(cohort: Cohort) -> dict[str, int]:
    """Patient counts of FIG-01 ... FIG-05 in the lesion cohort (from the lesion outcomes)."""
    n = cohort.n_lesion_patients
    out = {"patients": n, "lesions": int(cohort.lesion_patient.size)}
    out.update({k: int(cohort.patient[k][:n].sum()) for k in PATTERNS})
    return out


def timing_summary(settings: Settings) -> pd.Series:
    """The ZUMA-1 cure-model rates in force, for display."""
    t = timing(settings)
    return pd.Series({"failure rate /month": t.fail_rate, "salvaged share of failures": t.salvage,
                      "post-failure death rate /month": t.death_rate})  # fmt: skip
