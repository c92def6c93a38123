"""Calibration of the Figura et al. 2021 model by expected moments (deterministic, about a second).

Two steps, both on one fixed sample of simulated designs (lesion counts, features) drawn from
``SETTINGS["seed"]`` — common random numbers, so the objective is smooth:

1. ``prev_ge5cm``: the lesion-level prevalence of diameter >= 5 cm that makes the expected share
   of survival-cohort patients with any such lesion equal FIG-09 (46 of 69); the patient latent
   is integrated by Gauss–Hermite quadrature.
2. The local-failure model (intercept, three conditional log-ORs, random-effect SD) and the de
   novo intercept, by least squares on standardised residuals of the recurrence pattern counts
   (FIG-02 ... FIG-04) and the three lesion-level ORs (FIG-06 ... FIG-08). The patient random
   effect is integrated on quadrature nodes (``kernels.quadrature``, the rule of the mixed-model
   kernel), and each OR moment is the large-sample limit of the GEE the analysis applies, with
   the assumed working correlation (exchangeable: its estimating equations and its moment
   estimator of the correlation solved with expected outcomes; independence: the pooled 2 x 2
   table of expected counts), so the calibration targets the estimator the notebook applies.

The same numbers printed as percentages (FIG-02 ... FIG-04, FIG-09) are repeats of the counts
and inherit their role (``helpers.provenance``); the median follow-up sets the assumption
``followup_median`` directly (``derived_from`` in ``data/assumed/figura.yaml``). Every other
printed number is held out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from .. import ledger
from ..kernels.quadrature import gauss_hermite
from ..settings import Settings
from . import model
from . import settings as figura_settings

TARGETS = ("FIG-02/recurred", "FIG-03/local_component", "FIG-04/strictly_local", "FIG-06/or_diameter_ge5cm",
           "FIG-07/or_suvmax_ge10", "FIG-08/or_extranodal", "FIG-09/any_lesion_ge5cm")  # fmt: skip
FREE = ("prev_ge5cm", "lf_intercept", "lf_logor_size", "lf_logor_suv", "lf_logor_extranodal", "lf_sigma",
        "denovo_intercept")  # fmt: skip
SETTINGS = {"seed": 20211201, "cohorts": 30, "gh_nodes": 20, "gee_iterations": 60}
OR_ITEMS = {"size_ge5cm": "FIG-06/or_diameter_ge5cm", "suvmax_ge10": "FIG-07/or_suvmax_ge10",
            "extranodal": "FIG-08/or_extranodal"}  # fmt: skip
PATTERN_ITEMS = {"recurred": "FIG-02/recurred", "local_component": "FIG-03/local_component",
                 "strictly_local": "FIG-04/strictly_local"}  # fmt: skip
FITTED = ("lf_intercept", "lf_logor_size", "lf_logor_suv", "lf_logor_extranodal", "lf_sigma", "denovo_intercept")
DEFAULT_START = {"lf_intercept": -2.0, "lf_logor_size": 0.8, "lf_logor_suv": 0.7, "lf_logor_extranodal": 0.4,
                 "lf_sigma": 1.0, "denovo_intercept": -1.0}  # fmt: skip


def reported(ref: str) -> float:
    return float(ledger.lookup("figura", ref).value)


# ---------------------------------------------------------------- step 1: prevalence of >= 5 cm


def share_any_large(prev: float, counts: np.ndarray, rho: float, nodes: int) -> float:
    """Expected share of patients with at least one lesion >= 5 cm (patient latent integrated)."""
    z, w = gauss_hermite(nodes)
    t = stats.norm.isf(prev)
    p_small = stats.norm.cdf((t - np.sqrt(rho) * z) / np.sqrt(1 - rho))  # per node
    return float(1 - (w[None, :] * p_small[None, :] ** counts[:, None]).sum(1).mean())


# ---------------------------------------------------------------- step 2: expected moments


class Design:
    """The fixed sample of lesion-cohort designs and their per-cluster summaries."""

    def __init__(self, s: Settings, tuning: Mapping):
        rng = np.random.default_rng(tuning["seed"])
        k = tuning["cohorts"]
        n_pat, n_les, n_all = (int(s[n]) for n in ("n_patients", "n_lesions", "n_survival"))
        conc = s["lesion_count_concentration"]
        self.counts = np.concatenate([model.lesion_counts(rng, n_pat, n_les, conc) for _ in range(k)])
        extra = [model.lesion_counts(rng, n_pat, n_les, conc, n_all - n_pat)[n_pat:] for _ in range(k)]
        self.survival_counts = np.concatenate([self.counts, *extra])
        self.rho = s["feature_within_patient_rho"]
        self.tuning = tuning
        self.s = s
        self._rng = rng

    def draw_features(self, prev_ge5cm: float) -> None:
        prev = [prev_ge5cm, self.s["prev_suvmax_ge10"], self.s["prev_extranodal"]]
        self.x = model.lesion_features(self._rng, self.counts, prev, self.rho, self.s["size_suv_rho"]).astype(float)
        self.starts = np.r_[0, np.cumsum(self.counts)[:-1]]


def expected_moments(theta: np.ndarray, d: Design, q: float) -> dict:
    """Expected pattern shares and population-GEE log-ORs at parameters ``theta``."""
    b0, b_size, b_suv, b_ext, sigma, d0 = theta
    u, w = gauss_hermite(d.tuning["gh_nodes"])
    eta = b0 + d.x @ np.array([b_size, b_suv, b_ext])
    # clipped away from 0 and 1 so that log(p) and log1p(-p) stay finite at extreme nodes
    p = np.clip(special.expit(eta[:, None] + sigma * u[None, :]), 1e-12, 1 - 1e-12)  # lesions x nodes
    log_none = np.add.reduceat(np.log1p(-p), d.starts, axis=0)  # P(no local failure | u)
    log_all = np.add.reduceat(np.log(p), d.starts, axis=0)
    p_dn = special.expit(d0 + d.s["denovo_loading"] * sigma * u)[None, :]
    none = np.exp(log_none)
    fail = 1 - none * (1 - p_dn)
    out = {
        "recurred": q * (fail @ w).mean(),
        "local_component": q * ((1 - none) @ w).mean(),
        "strictly_local": q * (((1 - none) * (1 - p_dn)) @ w).mean(),
        "retained_resolution": q * ((fail - np.exp(log_all)) @ w).mean(),
    }
    exchangeable = d.s["gee_working_correlation"] == "exchangeable"
    for j, f in enumerate(model.FEATURES):
        out[f] = population_gee(p, w, d.x[:, j], d.starts, q, d.tuning["gee_iterations"], exchangeable)
    return out


def population_gee(p: np.ndarray, w: np.ndarray, x: np.ndarray, starts: np.ndarray, q: float,
                   iterations: int, exchangeable: bool = True) -> float:  # fmt: skip
    """Large-sample limit of the logistic GEE log-OR of a binary lesion feature (exchangeable
    working correlation, or independence: alpha held at 0).

    Outcomes enter only through their expectations: E y = q E_u p, and for pairs in one patient
    E y_j y_k = q E_u[p_j p_k] (local failures are seen only if the patient's failure is).
    """
    s = {}
    for lvl, mask in ((0, x == 0), (1, x == 1)):
        pm = p * mask[:, None]
        s[f"n{lvl}"] = np.add.reduceat(mask.astype(float), starts)
        s[f"m{lvl}"] = q * np.add.reduceat(pm, starts, axis=0) @ w
        s1 = np.add.reduceat(pm, starts, axis=0)
        s[f"S{lvl}"], s[f"Q{lvl}"] = s1, np.add.reduceat(pm * pm, starts, axis=0)
    e00 = q * ((s["S0"] ** 2 - s["Q0"]) / 2) @ w
    e11 = q * ((s["S1"] ** 2 - s["Q1"]) / 2) @ w
    e01 = q * (s["S0"] * s["S1"]) @ w
    n0, n1, m0, m1 = s["n0"], s["n1"], s["m0"], s["m1"]
    size = n0 + n1
    pairs = (size * (size - 1) / 2).sum()
    beta = np.array([special.logit(m0.sum() / n0.sum()), 0.0])
    beta[1] = special.logit(m1.sum() / n1.sum()) - beta[0]
    if not exchangeable:  # independence: the pooled expected 2 x 2 table is the solution
        return float(beta[1])
    alpha = 0.0
    for _ in range(iterations):
        mu0, mu1 = special.expit(beta[0]), special.expit(beta.sum())
        v0, v1 = mu0 * (1 - mu0), mu1 * (1 - mu1)
        sd0, sd1 = np.sqrt(v0), np.sqrt(v1)
        # moment estimator of the working correlation, with expected residual products
        rr = ((m0 * (1 - 2 * mu0) + n0 * mu0**2) / v0 + (m1 * (1 - 2 * mu1) + n1 * mu1**2) / v1).sum()
        p00 = (e00 - mu0 * (n0 - 1) * m0 + mu0**2 * n0 * (n0 - 1) / 2) / v0
        p11 = (e11 - mu1 * (n1 - 1) * m1 + mu1**2 * n1 * (n1 - 1) / 2) / v1
        p01 = (e01 - mu1 * n1 * m0 - mu0 * n0 * m1 + mu0 * mu1 * n0 * n1) / (sd0 * sd1)
        alpha = ((p00 + p11 + p01).sum() / pairs) / (rr / size.sum())
        c = alpha / (1 + alpha * (size - 1))
        sw = np.stack([n0 * sd0 + n1 * sd1, n1 * sd1], axis=1)
        sr = (m0 - n0 * mu0) / sd0 + (m1 - n1 * mu1) / sd1
        wr = np.array([(m0 - n0 * mu0).sum() + (m1 - n1 * mu1).sum(), (m1 - n1 * mu1).sum()])
        ww = np.array([[n0.sum() * v0 + n1.sum() * v1, n1.sum() * v1], [n1.sum() * v1, n1.sum() * v1]])
        bmat = ww - (c[:, None] * sw).T @ sw
        score = wr - sw.T @ (c * sr)
        step = np.linalg.solve(bmat, score)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12:
            break
    return float(beta[1])


# ---------------------------------------------------------------- the fit


def _objective_terms(n_patients: float) -> dict:
    """Target values and scales of the standardised residuals: binomial SE of each pattern share
    at the study's size; the SE of each log OR from its printed CI."""
    value, se = {}, {}
    for key, ref in PATTERN_ITEMS.items():
        v = reported(ref) / n_patients
        value[key], se[key] = v, np.sqrt(v * (1 - v) / n_patients)
    for f, ref in OR_ITEMS.items():
        rec = ledger.lookup("figura", ref)
        value[f], se[f] = np.log(rec.value), (np.log(rec.hi) - np.log(rec.lo)) / (2 * stats.norm.ppf(0.975))
    return {"value": value, "se": se}


def calibrate(settings: Settings | None = None, start: Mapping[str, float] | None = None,
              targets: Iterable[str] | None = None) -> dict:  # fmt: skip
    """Fit ``FREE`` to ``TARGETS`` (or the subset ``targets``) under ``settings``' assumptions.

    ``settings``: the assumptions to fit under (default: the committed ones); any calibrated
    values it carries are ignored. ``start``: warm start (values of ``FREE``). A free parameter
    none of whose targets is kept stays at its start (``prev_ge5cm`` without FIG-09); with fewer
    pattern/OR targets than the six parameters of step 2 the least-squares problem is
    underdetermined and the fit is the solution nearest the start that the trust-region
    method reaches. Returns params, targets (reported, fitted, residual), objective, converged,
    settings (``SETTINGS``) and the predictions of two held-out quantities.
    """
    s = (settings if settings is not None else figura_settings.load(calibrated={})).with_calibrated({})
    wanted = tuple(TARGETS if targets is None else targets)
    unknown = sorted(set(wanted) - set(TARGETS))
    if unknown:
        raise ValueError(f"not calibration targets of figura: {unknown}; TARGETS = {TARGETS}")
    if start is not None and set(start) - set(FREE):
        raise ValueError(f"start names {sorted(set(start) - set(FREE))}, not among FREE = {FREE}")
    begin = {**DEFAULT_START, **(dict(start) if start else {})}
    tuning = SETTINGS
    d = Design(s, tuning)
    n_pat, n_all = float(s["n_patients"]), float(s["n_survival"])
    if "FIG-09/any_lesion_ge5cm" in wanted:
        any_big = reported("FIG-09/any_lesion_ge5cm") / n_all
        prev = optimize.brentq(lambda v: share_any_large(v, d.survival_counts, d.rho, tuning["gh_nodes"]) - any_big,
                               0.005, 0.9, xtol=1e-12)  # fmt: skip
    else:
        prev = float(begin.get("prev_ge5cm", 0.29))
    d.draw_features(prev)
    t = model.timing(s)
    q = model.observed_share(t.fail_rate, s["followup_median"], s["followup_halfwidth"])
    tg = _objective_terms(n_pat)
    keys = [k for k, ref in {**PATTERN_ITEMS, **OR_ITEMS}.items() if ref in wanted]

    def residuals(theta):
        th = np.r_[theta[:4], np.exp(theta[4]), theta[5]]
        m = expected_moments(th, d, q)
        return np.array([(m[k] - tg["value"][k]) / tg["se"][k] for k in keys])

    x0 = np.array([begin[n] if n != "lf_sigma" else np.log(begin[n]) for n in FITTED])
    if len(keys) >= x0.size:
        fit = optimize.least_squares(residuals, x0, method="lm", xtol=1e-12, ftol=1e-12)
    else:  # underdetermined (leave-some-out refits): "lm" needs at least as many residuals as unknowns
        fit = optimize.least_squares(residuals, x0, method="trf", xtol=1e-12, ftol=1e-12, gtol=1e-12)
    theta = np.r_[fit.x[:4], np.exp(fit.x[4]), fit.x[5]]
    moments = expected_moments(theta, d, q)
    params = {"prev_ge5cm": float(prev), **dict(zip(FITTED, map(float, theta), strict=True))}
    any_pct = 100 * share_any_large(prev, d.survival_counts, d.rho, tuning["gh_nodes"])
    fitted = {
        **{ref: moments[key] * n_pat for key, ref in PATTERN_ITEMS.items()},
        **{ref: float(np.exp(moments[f])) for f, ref in OR_ITEMS.items()},
        "FIG-09/any_lesion_ge5cm": any_pct / 100 * n_all,
    }
    rows = []
    for ref in TARGETS:
        rep = reported(ref)
        cid, item = ref.split("/")
        rows.append({"claim_id": cid, "item": item, "reported": rep, "fitted": float(fitted[ref]),
                     "weight": 1.0 if ref in wanted else 0.0, "residual": float(fitted[ref] - rep)})  # fmt: skip
    objective = float(np.sum(fit.fun**2))
    return {
        "params": params,
        "targets": rows,
        "objective": objective,
        "converged": bool(fit.success and np.all(np.isfinite(fit.x))),
        "predicted": {
            "FIG-05/retained_resolution_pct": float(100 * moments["retained_resolution"] / moments["recurred"]),
            "FIG-02/recurred_pct": float(100 * moments["recurred"]),
            "observed_share_of_failures": q,
        },
        "settings": dict(tuning),
    }


def committed() -> dict:
    """The committed fit, ``data/calibrated/figura.json`` (refused when stale)."""
    from .. import calibrate as shared

    return shared.load("figura")


def targets_table(fit: Mapping) -> pd.DataFrame:
    """A fit's targets (reported, fitted, residual, weight) indexed by claim and item, for display."""
    return pd.DataFrame(fit["targets"]).set_index(["claim_id", "item"])[["reported", "fitted", "residual", "weight"]]
