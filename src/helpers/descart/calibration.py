"""Calibration of the DESCAR-T model by simulated moments.

The targets are the printed numbers in ``TARGETS`` (and only those); ``FREE`` are the hazard
parameters fitted to them. For a parameter vector, one large simulated registry
(``SETTINGS["n_multiplier"]`` copies of the printed sizes, a fixed seed: common random numbers,
drawn once per fit and re-assembled for each parameter vector, ``model.draw``/``model.assemble``)
is re-analysed with the batched kernels (``analysis.estimates``); the objective is the sum of
squared standardised log residuals, each target weighted by the SE its printed 95% CI implies
on the log scale: SE = (log hi - log lo) / (2 * 1.96), or the lower half-width when the upper
bound is not reached.

Smoothness and noise (measured; see the final report of this conversion):

- a Kaplan-Meier median by the R/SAS rule is a step function of the parameters (it jumps from
  one event time to the next); the objective uses the median of the KM curve interpolated
  linearly between event times (``kernels.km_interpolated``), continuous in the event
  times; at these sizes it differs from the step median by a fraction of the gap between events
  (the results tables always use the R/SAS rule);
- the medians, cheap to compute, come from a registry of their own 80 times the printed size
  (``median_multiplier``), the hazard ratios from the 20-times one: the sampling noise of the
  fitted registry moved the fit more than anything else;
- the optimiser is Levenberg-Marquardt with a forward-difference Jacobian updated by Broyden's
  rule (``levenberg_marquardt``): scipy's trust-region least squares stopped on the remaining
  roughness (objective 0.93 where this reaches 0.2 on the same registry).

``calibrate()`` (no arguments) is the committed fit, ``python -m helpers.calibrate descart``
writes it to ``data/calibrated/descart.json``, with the best joint fit of notebook 11
(``joint_fit``). ``calibrate(settings, start=...)`` is a refit under moved assumptions from a
warm start (the sensitivity sweep): a smaller evaluation budget, never worse than its start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import ledger
from ..settings import Settings
from . import analysis, model
from . import settings as descart_settings

# The numbers the model is fitted to: overall and group medians fix the baseline hazards and the
# failure-timing effects; one univariable HR per marker fixes its effect; lenalidomide fixes the
# salvage effect. Everything else is predicted.
TARGETS = [
    "DES-08/pfs2_median",
    "DES-09/os2_median",
    "DES-10/pfs2_median_d0_d30",
    "DES-10/pfs2_median_after_d90",
    "DES-11/os2_median_d0_d30",
    "DES-11/os2_median_after_d90",
    "DES-16/os2_uni_high_ldh",
    "DES-15/pfs2_uni_ecog_ge2",
    "DES-16/os2_uni_crp",
    "DES-15/pfs2_uni_ferritin",
    "DES-16/os2_uni_lenalidomide",
]
FREE = model.OUTCOME_PARAMETERS

# starting point (log rates per month, log HRs per model unit); chosen by hand to be plausible
INITIAL = {
    "alpha_prog": -2.0, "alpha_post": -1.5, "b_d0_d30": 0.8, "b_d31_d90": 0.4, "b_ldh": 0.7,
    "b_ecog": 0.4, "b_crp": 0.02, "b_ferritin": 0.008, "b_lenalidomide": -0.4, "kappa": 0.8,
}  # fmt: skip

# The best *joint* fit, for the display "which printed numbers pull against each other" only
# (notebook 11): every hazard ratio with a printed CI and every failure-timing median at once. Its
# parameters are never used to simulate, and its extra targets are not declared as used (they
# keep their roles in the results tables).
JOINT_TARGETS = TARGETS + [
    "DES-10/pfs2_median_d31_d90", "DES-11/os2_median_d31_d90",
    "DES-15/pfs2_uni_high_ldh", "DES-15/pfs2_uni_fail_d0_d30", "DES-15/pfs2_uni_crp",
    "DES-16/os2_uni_ecog_ge2", "DES-16/os2_uni_fail_d0_d30", "DES-16/os2_uni_ferritin",
    "DES-17/pfs2_multi_high_ldh", "DES-17/pfs2_multi_ferritin", "DES-17/pfs2_multi_lenalidomide",
    "DES-18/os2_multi_high_ldh", "DES-18/os2_multi_crp", "DES-18/os2_multi_fail_d0_d30",
    "DES-18/os2_multi_lenalidomide",
]  # fmt: skip

# Numbers that cannot all be true (helpers.infeasibility): leave-one-out over the joint targets, 26
# printed numbers for 10 free parameters, so each dropped number is predicted by the others
# (over TARGETS alone, 11 for 10, the fit is nearly exactly identified and predicts little).
CONFLICT_TARGETS = JOINT_TARGETS

SETTINGS = {
    "seed": 20221208,  # common random numbers: the same simulated registry for every evaluation
    "n_multiplier": 20,  # 20 x 238 failures: estimates close to their large-sample values
    # KM medians are cheap and their sampling noise moved the fit most: they come from a registry
    # of their own, 80 x the printed sizes (common random numbers too)
    "median_multiplier": 80,
    "median_rule": "interpolated",  # KM medians of the objective (see the module docstring)
    "method": "Levenberg-Marquardt, forward-difference Jacobian with Broyden updates (calibration.levenberg_marquardt)",
    "diff_step": 0.02,  # relative step of the forward differences
    "max_evaluations": 600,  # objective evaluations of a cold fit
    "warm_max_evaluations": 40,  # of a warm refit (the sensitivity sweep): about 4 s of CPU
    "targets": TARGETS,
    "initial": INITIAL,
    # the joint fit starts from the main fit; smaller cohorts keep it under a minute
    "joint": {"n_multiplier": 5, "max_evaluations": 400, "targets": JOINT_TARGETS},
}


def target_table(refs: Sequence[str] = TARGETS) -> list[dict]:
    """Reported value and log-scale SE of each target, from the ledger."""
    out = []
    for ref in refs:
        rec = ledger.lookup("descart", ref)
        v, lo, hi = float(rec.value), rec.lo, rec.hi
        if hi is not None and np.isfinite(hi):
            se = (np.log(hi) - np.log(lo)) / (2 * 1.959964)
        else:  # upper bound not reached: the lower half-width
            se = (np.log(v) - np.log(lo)) / 1.959964
        claim_id, item = ref.split("/")
        out.append({"claim_id": claim_id, "item": item, "ref": ref, "reported": v, "se_log": float(se)})
    return out


class Objective:
    """Standardised log residuals of ``targets`` as a function of the FREE parameters, on one
    large registry drawn once (common random numbers)."""

    def __init__(self, settings: Settings | None = None, targets: Sequence[str] = TARGETS,
                 n_multiplier: int | None = None, seed: int | None = None,
                 median_rule: str | None = None, median_multiplier: int | None = None):  # fmt: skip
        base = settings if settings is not None else descart_settings.load(calibrated=dict(INITIAL))
        self.settings = base.scaled(n_multiplier or SETTINGS["n_multiplier"])
        self.table = target_table(targets)
        self.refs = [t["ref"] for t in self.table]
        self.median_rule = median_rule or SETTINGS["median_rule"]
        seed = SETTINGS["seed"] if seed is None else seed
        self.drawn = model.draw(np.random.default_rng(seed), self.settings)
        # KM medians are cheap and noisy: a larger registry of their own (common random numbers too)
        m_med = SETTINGS.get("median_multiplier") if median_multiplier is None else median_multiplier
        self.median_refs = [r for r in self.refs if "median" in r] if m_med else []
        if self.median_refs:
            self.settings_med = base.scaled(m_med)
            self.drawn_med = model.draw(np.random.default_rng([seed, 1]), self.settings_med)
        self.evaluations = 0

    def fitted(self, theta: Mapping[str, float]) -> dict[str, float]:
        """Re-derived target values at ``theta`` (the other FREE parameters from the settings)."""
        params = {**{k: self.settings[k] for k in FREE if k in self.settings}, **theta}
        s = self.settings.with_calibrated(params)
        rest = [r for r in self.refs if r not in self.median_refs]
        draws = analysis.estimates([model.assemble(self.drawn, s)], s, include=rest, median_rule=self.median_rule)
        out = {f"{r.claim_id}/{r.item}": float(r.estimate) for r in draws.itertuples()}
        if self.median_refs:
            sm = self.settings_med.with_calibrated(params)
            med = analysis.estimates([model.assemble(self.drawn_med, sm)], sm, include=self.median_refs,
                                     median_rule=self.median_rule)  # fmt: skip
            out.update({f"{r.claim_id}/{r.item}": float(r.estimate) for r in med.itertuples()})
        self.evaluations += 1
        return out

    def residuals(self, theta: Mapping[str, float]) -> np.ndarray:
        fitted = self.fitted(theta)
        out = []
        for t in self.table:
            f = fitted.get(t["ref"], np.nan)
            out.append((np.log(f) - np.log(t["reported"])) / t["se_log"] if np.isfinite(f) and f > 0 else 10.0)
        return np.asarray(out)

    def __call__(self, theta: Mapping[str, float]) -> float:
        return float(np.sum(self.residuals(theta) ** 2))

    def rows(self, theta: Mapping[str, float]) -> list[dict]:
        fitted = self.fitted(theta)
        res = self.residuals(theta)
        return [
            {"claim_id": t["claim_id"], "item": t["item"], "reported": t["reported"],
             "fitted": round(fitted[t["ref"]], 6), "weight": round(1 / t["se_log"] ** 2, 6),
             "residual": round(float(r), 6)}
            for t, r in zip(self.table, res, strict=True)
        ]  # fmt: skip


def _jacobian(fun, x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Forward differences, step ``diff_step`` relative to max(1, |x|) (scipy's convention)."""
    J = np.empty((r.size, x.size))
    for j in range(x.size):
        h = SETTINGS["diff_step"] * (1.0 if x[j] >= 0 else -1.0) * max(1.0, abs(x[j]))
        xp = x.copy()
        xp[j] += h
        J[:, j] = (fun(xp) - r) / h
    return J


def levenberg_marquardt(fun, x0: np.ndarray, max_evaluations: int, ftol: float = 1e-4,
                        patience: int = 4) -> tuple[np.ndarray, float, bool, int]:  # fmt: skip
    """Least squares of ``fun`` (residual vector) by Levenberg-Marquardt with Broyden updates.

    The Jacobian is taken by forward differences at the start, then updated after every
    evaluation by Broyden's rank-one rule (one evaluation per step instead of len(x) + 1); after
    ``patience`` rejected steps in a row it is taken afresh by differences at the current point.
    Converged: a fresh Jacobian's ``patience`` steps improve the objective by less than ``ftol``
    (relative). Steps that do not lower the objective are never accepted, so the result is never
    worse than ``x0``. Returns (x, objective, converged, evaluations).
    """
    evals = 0

    def f(x):
        nonlocal evals
        evals += 1
        return fun(x)

    x = np.asarray(x0, float).copy()
    r = f(x)
    cost = float(r @ r)
    J = _jacobian(f, x, r)
    mu, failures, since_refresh, cost_at_refresh = 1e-3, 0, 0, cost
    converged = False
    while evals < max_evaluations:
        A, g = J.T @ J, J.T @ r
        try:
            dx = np.linalg.solve(A + mu * np.diag(np.diag(A) + 1e-12), -g)
        except np.linalg.LinAlgError:
            dx = -g / (np.diag(A) + mu + 1e-12)
        r_new = f(x + dx)
        J += np.outer(r_new - r - J @ dx, dx) / max(float(dx @ dx), 1e-300)
        cost_new = float(r_new @ r_new)
        since_refresh += 1
        if np.isfinite(cost_new) and cost_new < cost:
            x, r, cost = x + dx, r_new, cost_new
            mu, failures = max(mu / 3, 1e-9), 0
        else:
            mu, failures = min(mu * 4, 1e9), failures + 1
        if failures >= patience or since_refresh >= 6 * patience:
            if cost_at_refresh - cost < ftol * max(cost_at_refresh, 1e-12) and since_refresh <= 2 * patience:
                converged = True  # a fresh Jacobian could not improve
                break
            if evals + x.size > max_evaluations:
                break
            J = _jacobian(f, x, r)
            mu, failures, since_refresh, cost_at_refresh = 1e-3, 0, 0, cost
    return x, cost, converged, evals


def _fit(obj: Objective, start: Mapping[str, float], max_evaluations: int) -> tuple[dict, bool, int]:
    names = list(start)

    def fun(x):
        return obj.residuals(dict(zip(names, x, strict=True)))

    x, _, converged, evals = levenberg_marquardt(fun, np.array([float(start[k]) for k in names]), max_evaluations)
    # parameters are stored rounded; everything reported is evaluated at the stored values
    return {k: round(float(v), 8) for k, v in zip(names, x, strict=True)}, converged, evals


def calibrate(settings: Settings | None = None, start: Mapping[str, float] | None = None,
              targets: Sequence[str] | None = None, *, joint: bool | None = None) -> dict[str, Any]:  # fmt: skip
    """Fit FREE to ``targets`` (default TARGETS) under ``settings`` (default: the committed
    assumptions) from ``start`` (default INITIAL: the committed, cold fit).

    A warm start (``start`` given) has ``SETTINGS["warm_max_evaluations"]`` evaluations and returns its
    start if it finds nothing better. ``joint``: add the joint fit (default: only for the
    committed fit, i.e. no arguments). Returns params, targets (reported, fitted, weight,
    residual), objective, converged, settings (``SETTINGS``) and, with ``joint``, the joint fit.
    """
    committed = settings is None and start is None and targets is None
    obj = Objective(settings, list(targets) if targets is not None else TARGETS)
    x0 = dict(start) if start is not None else dict(INITIAL)
    missing = [k for k in FREE if k not in x0]
    if missing:
        raise ValueError(f"start lacks {missing}; give every FREE parameter")
    budget = SETTINGS["max_evaluations"] if start is None else SETTINGS["warm_max_evaluations"]
    theta, converged, evaluations = _fit(obj, {k: x0[k] for k in FREE}, budget)
    objective = obj(theta)
    if start is not None:
        at_start = obj({k: x0[k] for k in FREE})
        if at_start <= objective:  # never worse than the start
            theta, objective = {k: float(x0[k]) for k in FREE}, at_start
    out = {
        "params": theta,
        "targets": obj.rows(theta),
        "objective": round(objective, 6),
        "converged": converged,
        "evaluations": evaluations,  # of the optimiser (the reporting adds a few)
        "settings": SETTINGS,
    }
    if joint if joint is not None else committed:
        out["joint"] = joint_fit(obj.settings, start=theta)
    return out


def joint_fit(settings: Settings | None = None, start: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The best fit to every number of ``JOINT_TARGETS`` at once, from ``start`` (the main fit)."""
    j = SETTINGS["joint"]
    obj = Objective(settings, j["targets"], n_multiplier=j["n_multiplier"])
    theta, converged, _ = _fit(obj, dict(start or INITIAL), j["max_evaluations"])
    return {"params": theta, "targets": obj.rows(theta), "objective": round(obj(theta), 6), "converged": converged}


def joint_table(fit: Mapping[str, Any]):
    """Main fit vs best joint fit on the joint targets: estimates and standardised residuals.

    Both are evaluated on the joint fit's simulated registry, so the two residual columns are
    comparable; also returns each fit's objective on those targets. ``role``: of the printed
    number in the results tables (most joint targets are held out: the joint fit is a display).
    """
    import pandas as pd

    from .. import provenance

    j = SETTINGS["joint"]
    obj = Objective(descart_settings.load(calibrated=fit["params"]), j["targets"], n_multiplier=j["n_multiplier"])
    main_rows = obj.rows(fit["params"])
    rows = []
    for t, m, jr in zip(obj.table, main_rows, fit["joint"]["targets"], strict=True):
        rows.append({"ref": t["ref"], "role": provenance.role_of("descart", t["ref"])[0], "printed": t["reported"],
                     "main_fit": m["fitted"], "z_main": m["residual"], "joint_fit": jr["fitted"],
                     "z_joint": jr["residual"]})  # fmt: skip
    table = pd.DataFrame(rows).set_index("ref")
    objectives = pd.Series({"main fit": float((table.z_main**2).sum()), "joint fit": fit["joint"]["objective"]},
                           name="sum of squared z on the joint targets")  # fmt: skip
    return table, objectives
