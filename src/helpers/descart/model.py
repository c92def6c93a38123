"""Generative model of the DESCAR-T registry (Di Blasi et al., Blood 2022, doi:10.1182/blood.2022016945).

Who is simulated: the 550 infused patients, of whom the 238 failures (progression or relapse
after CAR T) form the analysed cohort. Printed counts (products, failure-timing groups, bridging,
salvage classes, responses, the denominators the percentages imply) are *inputs* read from the
ledger and assigned exactly; everything else comes from ``data/assumed/descart.yaml`` (assumed)
or ``data/calibrated/descart.json`` (calibrated).

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
  mutually exclusive) and response to it (exact printed counts among the 120 evaluable);
- progression after failure: Weibull with log-hazard ``lp = alpha_prog + x beta + burden_hazard*Z``;
  survival after that progression: Weibull with log-hazard ``alpha_post + kappa * (x beta + ...)``;
  PFS-2 = progression time, OS-2 = PFS-2 + post-progression time, so PFS-2 <= OS-2 always;
- censoring: infusions accrue over ``accrual_months`` with a rising rate; the cut-off gives each
  patient a potential follow-up F from infusion (conditioned on F > time to failure for the
  failures); follow-up from failure is F - time to failure.

The 312 non-progressive patients are simulated only as far as DES-19 needs (registry PFS and
duration of response): follow-up F and a small non-relapse mortality.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy import optimize, stats

from .. import assumptions, audit, ledger
from ..params import ParameterError, check_positive

GROUPS = ("d0_d30", "d31_d90", "after_d90")
SALVAGE = ("lenalidomide", "bispecific", "targeted", "radiotherapy", "immunochemo", "other")
# best response to salvage among the evaluable; "ne" = evaluable count minus the printed categories
RESPONSE = ("cr", "pr", "sd", "pd", "ne")
BRIDGING = ("conventional", "light", "radiotherapy")
DAYS_PER_MONTH = 30.4375

# the parameters calibration fits (log scale for rates and HRs); see calibration.py
CALIBRATED = ("alpha_prog", "alpha_post", "b_d0_d30", "b_d31_d90", "b_ldh", "b_ecog",
              "b_crp", "b_ferritin", "b_lenalidomide", "kappa")  # fmt: skip


def _count(ref: str) -> int:
    return int(round(float(ledger.lookup("descart", ref)["value"])))


def _n(ref: str) -> int:
    """The printed denominator of a percentage, or the one it implies when none is printed.

    Where several whole denominators round to the printed percentage, the one closest to
    count / percent is taken (e.g. 72 = 38.9% implies 185).
    """
    rec = ledger.lookup("descart", ref)
    if rec["n"] == rec["n"] and rec["n"] is not None:  # printed (not NaN)
        return int(round(float(rec["n"])))
    count = int(round(float(rec["count"])))
    fits = audit.implied_denominators(count, rec["printed"])
    if not fits:
        raise ValueError(f"{ref}: no denominator gives {count} = {rec['printed']}%; check the ledger")
    return min(fits, key=lambda n: abs(n - 100 * count / float(rec["value"])))


@cache
def design() -> dict:
    """Printed counts the simulator takes as inputs (read from the ledger, never typed)."""
    salvage = [_count(f"DES-06/{c}") for c in SALVAGE[:-1]]
    n_salvage = _count("DES-06/salvage")
    response = [_count(f"DES-07/{c}") for c in RESPONSE[:-1]]
    n_eval = _count("DES-07/evaluable")
    return {
        "n_infused": _count("DES-01/infused"),
        "n_failed": _count("DES-01/failed"),
        "failed_axicel": _count("DES-01/failed_axicel"),
        "infused_axicel": _count("DES-01/infused_axicel"),
        "groups": [_count(f"DES-02/fail_{g}") for g in GROUPS],
        "ttf_min": float(ledger.lookup("descart", "DES-02/ttf_range")["lo"]),
        "ttf_max": float(ledger.lookup("descart", "DES-02/ttf_range")["hi"]),
        "dlbcl": _count("DES-03/dlbcl"),
        "prior_lines_gt3": _count("DES-03/prior_lines_gt3"),
        "transplanted": _count("DES-03/transplanted"),
        "aaipi": (_count("DES-03/aaipi_2_3"), _n("DES-03/aaipi_2_3_pct")),
        "ecog_share": float(ledger.lookup("descart", "DES-03/ecog_ge2_pct")["value"]) / 100,
        "bridging": [_count(f"DES-04/bridging_{b}") for b in BRIDGING],
        "pd_at_infusion": (_count("DES-04/pd_at_infusion"), _n("DES-04/pd_at_infusion_pct")),
        "high_ldh": (_count("DES-04/high_ldh"), _n("DES-04/high_ldh_pct")),
        "nonprogressive": _count("DES-05/nonprogressive"),
        "np_response": [_count(f"DES-05/np_{c}") for c in ("cr", "pr", "sd")],
        "salvage": [*salvage, n_salvage - sum(salvage)],
        "response": [*response, n_eval - sum(response)],
    }


def default_params(overrides: dict | None = None) -> dict:
    """Assumed values plus the committed calibrated parameters (overrides for either)."""
    from .. import calibrate as calibrate_module  # late import: calibration imports this module

    params = assumptions.load("descart")
    params.update(calibrate_module.load("descart")["params"])
    for name, value in (overrides or {}).items():
        if name not in params:
            raise ParameterError(f"params has no {name!r}; known: {', '.join(sorted(params))}")
        params[name] = value
    return params


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


def simulate(rng: np.random.Generator, params: dict, n_multiplier: int = 1) -> dict[str, np.ndarray]:
    """One registry: arrays for the failures (no prefix) and for all infused (``reg_`` prefix).

    ``n_multiplier`` scales every printed count (an integer >= 1), for large calibration cohorts.
    Times are in months. Missing values are NaN.
    """
    if not isinstance(rng, np.random.Generator):
        raise ParameterError("rng must be a numpy.random.Generator (use numpy.random.default_rng(seed))")
    m = check_positive("n_multiplier", n_multiplier, integer=True)
    p, d = params, design()
    n = d["n_failed"] * m

    # --- failure timing (exact counts) and time to failure within the group
    group = _exact_labels(rng, n, _scaled(d["groups"][:-1], m))  # last group takes the rest
    u = rng.random(n)
    ttf_early = d["ttf_min"] + u * (1.0 - d["ttf_min"])
    ttf_mid = 1.0 + 2.0 * u ** p["ttf_mid_power"]
    late_cap = 1.0 - np.exp(-(d["ttf_max"] - 3.0) / p["ttf_late_mean_months"])
    ttf_late = 3.0 - p["ttf_late_mean_months"] * np.log1p(-u * late_cap)
    ttf = np.choose(group, [ttf_early, ttf_mid, ttf_late])
    d0_d30 = (group == 0).astype(float)
    d31_d90 = (group == 1).astype(float)

    # --- product: failures after axi-cel, exact count
    axicel = _exact_subset(rng, n, d["failed_axicel"] * m).astype(float)

    # --- latent tumor burden and the markers loading on it
    lam = p["burden_loading"]
    shifts = (p["burden_shift_d0_d30"], p["burden_shift_d31_d90"], 0.0)
    z = np.asarray(shifts)[group] + rng.standard_normal(n)

    def marker_score() -> np.ndarray:
        return lam * z + np.sqrt(1.0 - lam**2) * rng.standard_normal(n)

    ldh_true_score = marker_score()
    ldh_count, ldh_known_n = d["high_ldh"]
    ldh_known = _exact_subset(rng, n, ldh_known_n * m)
    high_ldh_obs = _top_k(ldh_true_score, ldh_known, ldh_count * m)
    # the true status of the unknown: same latent threshold as the known (prevalence 72/185)
    weights = tuple(np.asarray(d["groups"]) / d["n_failed"])
    tau_ldh = _binary_threshold(lam, shifts, weights, ldh_count / ldh_known_n)
    high_ldh = np.where(np.isnan(high_ldh_obs), (ldh_true_score > tau_ldh).astype(float), high_ldh_obs)

    ecog_score = marker_score()
    ecog_known = rng.random(n) < p["ecog_known_share"]
    ecog_obs = _top_k(ecog_score, ecog_known, int(round(d["ecog_share"] * ecog_known.sum())))
    tau_ecog = _binary_threshold(lam, shifts, weights, d["ecog_share"])
    ecog = np.where(np.isnan(ecog_obs), (ecog_score > tau_ecog).astype(float), ecog_obs)

    aaipi_count, aaipi_n = d["aaipi"]
    aaipi = _top_k(marker_score(), _exact_subset(rng, n, aaipi_n * m), aaipi_count * m)
    pd_count, pd_n = d["pd_at_infusion"]
    pd_inf = _top_k(marker_score(), _exact_subset(rng, n, pd_n * m), pd_count * m)

    crp = p["crp_median_mg_l"] * np.exp(p["crp_log_sd"] * marker_score())
    ferritin = p["ferritin_median_ug_l"] * np.exp(p["ferritin_log_sd"] * marker_score())
    crp_u = (crp - p["crp_median_mg_l"]) / p["crp_unit_mg_l"]  # centred, in model units
    fer_u = (ferritin - p["ferritin_median_ug_l"]) / p["ferritin_unit_ug_l"]

    # --- characteristics unrelated to the outcome model (exact printed counts)
    dlbcl = _exact_subset(rng, n, d["dlbcl"] * m).astype(float)
    prior_gt3 = _exact_subset(rng, n, d["prior_lines_gt3"] * m).astype(float)
    transplanted = _exact_subset(rng, n, d["transplanted"] * m).astype(float)
    bridging = _exact_labels(rng, n, _scaled(d["bridging"], m))  # 3 = no bridging

    # --- salvage class (exact counts among those with a recorded line; 6 = none recorded)
    salvage = _exact_labels(rng, n, _scaled(d["salvage"], m))
    recorded = salvage < len(SALVAGE)
    rec_idx = np.flatnonzero(recorded)
    response = np.full(n, -1)
    response[rec_idx] = _exact_labels(rng, rec_idx.size, _scaled(d["response"], m))  # 5 = not evaluable

    # --- outcomes after failure
    salvage_effect = np.array([
        p["b_lenalidomide"], p["b_lenalidomide"] + p["bispecific_vs_lenalidomide_log_hr"],
        p["targeted_log_hr"], p["radiotherapy_log_hr"], p["immunochemo_log_hr"], 0.0, p["no_salvage_log_hr"],
    ])[salvage]  # fmt: skip
    lp = (p["b_d0_d30"] * d0_d30 + p["b_d31_d90"] * d31_d90 + p["b_ldh"] * high_ldh
          + p["b_ecog"] * ecog + p["b_crp"] * crp_u + p["b_ferritin"] * fer_u
          + salvage_effect + p["burden_hazard"] * z)  # fmt: skip
    prog = np.exp(-p["alpha_prog"]) * (rng.standard_exponential(n) * np.exp(-lp)) ** (1 / p["prog_weibull_shape"])
    post = np.exp(-p["alpha_post"]) * (rng.standard_exponential(n) * np.exp(-p["kappa"] * lp)) ** (
        1 / p["post_weibull_shape"]
    )
    death = prog + post

    # --- censoring: potential follow-up from infusion, given that the failure was seen
    acc, ramp = p["accrual_months"], p["accrual_ramp"]
    v = rng.random(n) * ((acc - ttf) / acc) ** ramp
    follow_inf = acc * (1.0 - v ** (1.0 / ramp))
    censor = follow_inf - ttf
    pfs2 = np.minimum(prog, censor)
    os2 = np.minimum(death, censor)

    # --- cytopenia (grade 3/4) at D30 and D90 by product
    cyto30 = rng.random(n) < np.where(axicel == 1, p["cytopenia_d30_axicel"], p["cytopenia_d30_tisacel"])
    cyto90 = rng.random(n) < np.where(axicel == 1, p["cytopenia_d90_axicel"], p["cytopenia_d90_tisacel"])

    cohort = {
        "group": group, "ttf": ttf, "fail_d0_d30": d0_d30, "axicel": axicel,
        "burden": z, "high_ldh_true": high_ldh, "high_ldh": high_ldh_obs,
        "ecog_ge2": ecog_obs, "aaipi_2_3": aaipi, "pd_at_infusion": pd_inf,
        "crp": np.where(rng.random(n) < p["crp_known_share"], crp, np.nan),
        "ferritin": np.where(rng.random(n) < p["ferritin_known_share"], ferritin, np.nan),
        "dlbcl": dlbcl, "prior_lines_gt3": prior_gt3, "transplanted": transplanted,
        "bridging": bridging, "salvage": salvage, "response": response,
        "pfs2": pfs2, "pfs2_event": (prog <= censor).astype(float),
        "os2": os2, "os2_event": (death <= censor).astype(float),
        "followup_inf": follow_inf, "cytopenia_d30": cyto30.astype(float),
        "cytopenia_d90": cyto90.astype(float),
    }  # fmt: skip
    cohort.update(_registry(rng, p, d, m, cohort))
    return cohort


def _registry(rng: np.random.Generator, p: dict, d: dict, m: int, fail: dict) -> dict[str, np.ndarray]:
    """All infused patients (failures first): PFS and OS from infusion, duration of response."""
    n_np = d["nonprogressive"] * m
    acc, ramp = p["accrual_months"], p["accrual_ramp"]
    follow_np = acc * (1.0 - rng.random(n_np) ** (1.0 / ramp))
    nrm = rng.standard_exponential(n_np) / max(p["nonprogressive_nrm_rate"], 1e-12)
    np_time = np.minimum(nrm, follow_np)
    np_event = (nrm <= follow_np).astype(float)
    # responders: non-progressive CR/PR, and failures after D30 whose relapse ended a response
    np_status = _exact_labels(rng, n_np, _scaled(d["np_response"], m))  # CR, PR, SD, 3 = not given
    np_resp = np_status < 2
    resp_t = p["response_time_months"]
    fail_resp = (fail["ttf"] > resp_t) & (rng.random(fail["ttf"].size) < p["failure_responded_share"])
    dor = np.concatenate([fail["ttf"][fail_resp] - resp_t, np_time[np_resp] - resp_t])
    dor_event = np.concatenate([np.ones(fail_resp.sum()), np_event[np_resp]])
    os_inf_fail = fail["ttf"] + fail["os2"]
    return {
        "reg_pfs": np.concatenate([fail["ttf"], np_time]),
        "reg_pfs_event": np.concatenate([np.ones(fail["ttf"].size), np_event]),
        "reg_os": np.concatenate([os_inf_fail, np_time]),
        "reg_os_event": np.concatenate([fail["os2_event"], np_event]),
        "reg_axicel": np.concatenate([fail["axicel"],
                                      _exact_subset(rng, n_np, (d["infused_axicel"] - d["failed_axicel"]) * m)]),
        "reg_failed": np.concatenate([np.ones(fail["ttf"].size), np.zeros(n_np)]),
        "np_status": np_status, "dor": dor, "dor_event": dor_event,
    }  # fmt: skip
