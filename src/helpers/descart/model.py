"""Generative model of the DESCAR-T registry (Di Blasi et al., Blood 2022, doi:10.1182/blood.2022016945).

Who is simulated: the 550 infused patients, of whom the 238 failures (progression or relapse
after CAR T) form the analysed cohort. Printed counts (products, failure-timing groups, bridging,
salvage classes, responses, the denominators the percentages imply) are *inputs*
(``settings.INPUTS``) assigned exactly; everything else comes from the settings: assumed values
(``data/assumed/descart.yaml``) and calibrated parameters (``data/calibrated/descart.json``).

Structure (one patient among the failures):

- failure-timing group g (D0-D30, D31-D90, >D90) with exact printed counts, time to failure
  within the group;
- a latent tumor-burden factor Z = shift[g] + N(0, 1). Markers load on Z with one loading
  (a Gaussian one-factor copula): binary markers (high LDH, ECOG >= 2, aaIPI 2-3, progressive
  disease at infusion) are the top-k latent scores among patients with a known value (k from the
  printed count), CRP and ferritin are lognormal with their log loaded on Z;
- missing values: exactly the printed/implied denominators are known (LDH 185, aaIPI 221,
  disease status 209), ECOG, CRP, ferritin known with assumed shares (missing completely at random);
- salvage class (exact printed counts among the 154 with a recorded salvage line, taken as
  mutually exclusive) and response to it (exact printed counts among the 120 evaluable); 12 of
  the 17 radiotherapy patients had a localized relapse (the group of the paper's Figure 1);
- progression after failure: Weibull with log-hazard ``lp = alpha_prog + x beta + burden_hazard*Z``;
  survival after that progression: Weibull with log-hazard ``alpha_post + kappa * (x beta + ...)``;
  PFS-2 = progression time, OS-2 = PFS-2 + post-progression time, so PFS-2 <= OS-2 always;
- censoring: infusions accrue over ``accrual_months`` with a rising rate; the cut-off gives each
  patient a potential follow-up F from infusion (conditioned on F > time to failure for the
  failures); follow-up from failure is F - time to failure.

The 312 non-progressive patients are simulated only as far as DES-19 needs (registry PFS and
duration of response): follow-up F and a small non-relapse mortality.

``simulate`` = ``assemble(draw(rng, settings), settings)``: ``draw`` takes every random number
(in a fixed order) and everything the calibrated parameters do not touch; ``assemble`` turns them
into outcomes. The calibration draws once and assembles per parameter vector (common random
numbers). The last draw is an integer seed for the analysis's own Monte Carlo (the Fisher test),
so each replicate's analysis has its own generator and every earlier draw is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
from scipy import optimize, stats

from ..params import ParameterError, check_positive
from .settings import BRIDGING, GROUPS, RESPONSE, SALVAGE  # noqa: F401  (re-exported for the analysis)

DAYS_PER_MONTH = 30.4375

# the parameters the calibration fits (log scale for rates and HRs); see calibration.FREE
OUTCOME_PARAMETERS = ("alpha_prog", "alpha_post", "b_d0_d30", "b_d31_d90", "b_ldh", "b_ecog",
                      "b_crp", "b_ferritin", "b_lenalidomide", "kappa")  # fmt: skip


def _exact_labels(rng: np.random.Generator, n: int, counts: list[int]) -> np.ndarray:
    """Labels 0..k-1 with exactly ``counts`` of each (the rest get label k), randomly ordered."""
    labels = np.repeat(np.arange(len(counts) + 1), [*counts, n - sum(counts)])
    return rng.permutation(labels)


def _exact_subset(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Boolean mask with exactly k True, at random positions."""
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=k, replace=False)] = True
    return mask


def _top_k(score: np.ndarray, known: np.ndarray, k: int) -> np.ndarray:
    """1 for the k highest scores among ``known`` patients, 0 for the other known, NaN for unknown."""
    out = np.full(score.shape, np.nan)
    idx = np.flatnonzero(known)
    order = idx[np.argsort(-score[idx], kind="stable")]
    out[idx] = 0.0
    out[order[:k]] = 1.0
    return out


@cache
def _binary_threshold(loading: float, shifts: tuple, weights: tuple, prevalence: float) -> float:
    """Threshold on the latent score giving ``prevalence`` over the whole mixture of groups."""
    mu = loading * np.asarray(shifts)
    w = np.asarray(weights)

    def gap(tau: float) -> float:
        return float(np.sum(w * stats.norm.sf(tau - mu)) - prevalence)

    return optimize.brentq(gap, -10, 10)


def _scaled(counts, m: int) -> list[int]:
    return [int(c) * m for c in counts]


def _multiplier(settings: Mapping[str, Any]) -> int:
    return check_positive("n_multiplier", getattr(settings, "n_multiplier", 1), integer=True)


def simulate(rng: np.random.Generator, settings: Mapping[str, Any]) -> dict[str, Any]:
    """One registry: arrays for the failures (no prefix) and for all infused (``reg_`` prefix).

    Sizes are the printed ones times ``settings.n_multiplier``. Times are in months; missing
    values are NaN; ``analysis_seed`` seeds the analysis's own Monte Carlo for this cohort.
    """
    return assemble(draw(rng, settings), settings)


def draw(rng: np.random.Generator, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Every random number of one registry, and everything the calibrated parameters do not touch."""
    if not isinstance(rng, np.random.Generator):
        raise ParameterError("rng must be a numpy.random.Generator (use numpy.random.default_rng(seed))")
    m = _multiplier(settings)
    p = settings
    n = p["n_failed"] * m

    # --- failure timing (exact counts) and time to failure within the group
    group = _exact_labels(rng, n, _scaled(p["groups"][:-1], m))  # last group takes the rest
    u = rng.random(n)
    ttf_early = p["ttf_min"] + u * (1.0 - p["ttf_min"])
    ttf_mid = 1.0 + 2.0 * u ** p["ttf_mid_power"]
    late_mean = p["ttf_late_mean_months"]
    late_cap = 1.0 - np.exp(-(p["ttf_max"] - 3.0) / late_mean)
    ttf_late = 3.0 - late_mean * np.log1p(-u * late_cap)
    ttf = np.choose(group, [ttf_early, ttf_mid, ttf_late])

    # --- product: failures after axi-cel, exact count
    axicel = _exact_subset(rng, n, p["failed_axicel"] * m).astype(float)

    # --- latent tumor burden and the markers loading on it
    lam = p["burden_loading"]
    shifts = (p["burden_shift_d0_d30"], p["burden_shift_d31_d90"], 0.0)
    z = np.asarray(shifts)[group] + rng.standard_normal(n)

    def marker_score() -> np.ndarray:
        return lam * z + np.sqrt(1.0 - lam**2) * rng.standard_normal(n)

    ldh_true_score = marker_score()
    ldh_count, ldh_known_n = p["high_ldh"]
    ldh_known = _exact_subset(rng, n, ldh_known_n * m)
    high_ldh_obs = _top_k(ldh_true_score, ldh_known, ldh_count * m)
    # the true status of the unknown: same latent threshold as the known (prevalence 72/185)
    weights = tuple(np.asarray(p["groups"]) / p["n_failed"])
    tau_ldh = _binary_threshold(lam, shifts, weights, ldh_count / ldh_known_n)
    high_ldh = np.where(np.isnan(high_ldh_obs), (ldh_true_score > tau_ldh).astype(float), high_ldh_obs)

    ecog_score = marker_score()
    ecog_known = rng.random(n) < p["ecog_known_share"]
    ecog_obs = _top_k(ecog_score, ecog_known, int(round(p["ecog_share"] * ecog_known.sum())))
    tau_ecog = _binary_threshold(lam, shifts, weights, p["ecog_share"])
    ecog = np.where(np.isnan(ecog_obs), (ecog_score > tau_ecog).astype(float), ecog_obs)

    aaipi_count, aaipi_n = p["aaipi"]
    aaipi = _top_k(marker_score(), _exact_subset(rng, n, aaipi_n * m), aaipi_count * m)
    pd_count, pd_n = p["pd_at_infusion"]
    pd_inf = _top_k(marker_score(), _exact_subset(rng, n, pd_n * m), pd_count * m)

    crp = p["crp_median_mg_l"] * np.exp(p["crp_log_sd"] * marker_score())
    ferritin = p["ferritin_median_ug_l"] * np.exp(p["ferritin_log_sd"] * marker_score())

    # --- characteristics unrelated to the outcome model (exact printed counts)
    dlbcl = _exact_subset(rng, n, p["dlbcl"] * m).astype(float)
    prior_gt3 = _exact_subset(rng, n, p["prior_lines_gt3"] * m).astype(float)
    transplanted = _exact_subset(rng, n, p["transplanted"] * m).astype(float)
    bridging = _exact_labels(rng, n, _scaled(p["bridging"], m))  # 3 = no bridging

    # --- salvage class (exact counts among those with a recorded line; 6 = none recorded)
    salvage = _exact_labels(rng, n, _scaled(p["salvage"], m))
    rec_idx = np.flatnonzero(salvage < len(SALVAGE))
    response = np.full(n, -1)
    response[rec_idx] = _exact_labels(rng, rec_idx.size, _scaled(p["response"], m))  # 5 = not evaluable

    # --- unit exponentials of the two outcome times (turned into times by ``assemble``)
    e_prog = rng.standard_exponential(n)
    e_post = rng.standard_exponential(n)

    # --- censoring: potential follow-up from infusion, given that the failure was seen
    acc, ramp = p["accrual_months"], p["accrual_ramp"]
    v = rng.random(n) * ((acc - ttf) / acc) ** ramp
    follow_inf = acc * (1.0 - v ** (1.0 / ramp))

    # --- cytopenia (grade 3/4) at D30 and D90 by product
    cyto30 = rng.random(n) < np.where(axicel == 1, p["cytopenia_d30_axicel"], p["cytopenia_d30_tisacel"])
    cyto90 = rng.random(n) < np.where(axicel == 1, p["cytopenia_d90_axicel"], p["cytopenia_d90_tisacel"])
    crp_obs = np.where(rng.random(n) < p["crp_known_share"], crp, np.nan)
    ferritin_obs = np.where(rng.random(n) < p["ferritin_known_share"], ferritin, np.nan)

    base = {
        "group": group, "ttf": ttf, "fail_d0_d30": (group == 0).astype(float), "axicel": axicel,
        "burden": z, "high_ldh_true": high_ldh, "high_ldh": high_ldh_obs, "ecog_ge2_true": ecog,
        "ecog_ge2": ecog_obs, "aaipi_2_3": aaipi, "pd_at_infusion": pd_inf,
        "crp_true": crp, "ferritin_true": ferritin, "crp": crp_obs, "ferritin": ferritin_obs,
        "dlbcl": dlbcl, "prior_lines_gt3": prior_gt3, "transplanted": transplanted,
        "bridging": bridging, "salvage": salvage, "response": response,
        "followup_inf": follow_inf, "cytopenia_d30": cyto30.astype(float),
        "cytopenia_d90": cyto90.astype(float), "_e_prog": e_prog, "_e_post": e_post,
    }  # fmt: skip
    base.update(_draw_registry(rng, p, m, ttf, axicel))
    # --- drawn last, so that every earlier draw stays as it was
    rt = np.flatnonzero(salvage == SALVAGE.index("radiotherapy"))
    localized = np.zeros(n, dtype=bool)
    localized[rt[_exact_subset(rng, rt.size, p["radiotherapy_localized"] * m)]] = True
    base["rt_localized"] = localized
    base["analysis_seed"] = int(rng.integers(2**63 - 1))
    return base


def _draw_registry(rng: np.random.Generator, p, m: int, ttf: np.ndarray, axicel: np.ndarray) -> dict[str, Any]:
    """The 312 non-progressive patients (follow-up, non-relapse mortality, best response) and
    which failures had responded first (duration of response)."""
    n_np = p["nonprogressive"] * m
    acc, ramp = p["accrual_months"], p["accrual_ramp"]
    follow_np = acc * (1.0 - rng.random(n_np) ** (1.0 / ramp))
    nrm = rng.standard_exponential(n_np) / max(p["nonprogressive_nrm_rate"], 1e-12)
    np_time = np.minimum(nrm, follow_np)
    np_event = (nrm <= follow_np).astype(float)
    # responders: non-progressive CR/PR, and failures after D30 whose relapse ended a response
    np_status = _exact_labels(rng, n_np, _scaled(p["np_response"], m))  # CR, PR, SD, 3 = not given
    np_resp = np_status < 2
    resp_t = p["response_time_months"]
    fail_resp = (ttf > resp_t) & (rng.random(ttf.size) < p["failure_responded_share"])
    dor = np.concatenate([ttf[fail_resp] - resp_t, np_time[np_resp] - resp_t])
    dor_event = np.concatenate([np.ones(fail_resp.sum()), np_event[np_resp]])
    reg_axicel = np.concatenate([axicel, _exact_subset(rng, n_np, (p["infused_axicel"] - p["failed_axicel"]) * m)])
    return {
        "reg_pfs": np.concatenate([ttf, np_time]),
        "reg_pfs_event": np.concatenate([np.ones(ttf.size), np_event]),
        "_np_time": np_time, "_np_event": np_event,
        "reg_axicel": reg_axicel.astype(float),
        "reg_failed": np.concatenate([np.ones(ttf.size), np.zeros(n_np)]),
        "np_status": np_status, "dor": dor, "dor_event": dor_event,
    }  # fmt: skip


def linear_predictor(c: Mapping[str, Any], p: Mapping[str, Any]) -> np.ndarray:
    """Log-hazard of progression after failure, without ``alpha_prog`` (true marker values)."""
    salvage_effect = np.array([
        p["b_lenalidomide"], p["b_lenalidomide"] + p["bispecific_vs_lenalidomide_log_hr"],
        p["targeted_log_hr"], p["radiotherapy_log_hr"], p["immunochemo_log_hr"], 0.0, p["no_salvage_log_hr"],
    ])[c["salvage"]]  # fmt: skip
    crp_u = (c["crp_true"] - p["crp_median_mg_l"]) / p["crp_unit_mg_l"]  # centred, in model units
    fer_u = (c["ferritin_true"] - p["ferritin_median_ug_l"]) / p["ferritin_unit_ug_l"]
    return (p["b_d0_d30"] * c["fail_d0_d30"] + p["b_d31_d90"] * (c["group"] == 1) + p["b_ldh"] * c["high_ldh_true"]
            + p["b_ecog"] * c["ecog_ge2_true"] + p["b_crp"] * crp_u + p["b_ferritin"] * fer_u
            + salvage_effect + p["burden_hazard"] * c["burden"])  # fmt: skip


def assemble(drawn: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """Outcomes (PFS-2, OS-2, registry PFS and OS) from the draws and the hazard parameters."""
    p = settings
    lp = linear_predictor(drawn, p)
    prog = np.exp(-p["alpha_prog"]) * (drawn["_e_prog"] * np.exp(-lp)) ** (1 / p["prog_weibull_shape"])
    post = np.exp(-p["alpha_post"]) * (drawn["_e_post"] * np.exp(-p["kappa"] * lp)) ** (1 / p["post_weibull_shape"])
    death = prog + post
    censor = drawn["followup_inf"] - drawn["ttf"]
    out = {k: v for k, v in drawn.items() if not k.startswith("_")}
    out.update({
        "pfs2": np.minimum(prog, censor), "pfs2_event": (prog <= censor).astype(float),
        "os2": np.minimum(death, censor), "os2_event": (death <= censor).astype(float),
    })  # fmt: skip
    out["reg_os"] = np.concatenate([drawn["ttf"] + out["os2"], drawn["_np_time"]])
    out["reg_os_event"] = np.concatenate([out["os2_event"], drawn["_np_event"]])
    return out
