"""Calibration of a spec paper by simulated moments, with common random numbers.

For a parameter vector, one large cohort (the printed sizes times ``calibration.n_multiplier``,
drawn from a generator seeded with ``calibration.seed``: the same random numbers at every
evaluation, so the objective is a deterministic function of the parameters) is re-analysed with
the batched kernels (``analysis.analyse``), and the fit minimises the sum of squared
standardised residuals over the targets, by ``scipy.optimize.least_squares`` on the transformed
free parameters (``log``, ``logit`` or ``identity``; bounds mapped alike).

Each residual is (g(fitted) - g(printed)) / SE on the estimator's natural scale ``g``: log for
times, ratios and counts, logit for percentages. The SE comes from the printed 95% CI on that
scale ((g(hi) - g(lo)) / 2 z; one-sided from the bound that is printed when the other is "NE"/"NR");
without a CI from the binomial (percentages, counts: the item's ``n``, else the study's size);
and never below the printed rounding (a uniform rounding error: width / sqrt(12) on that scale),
which is all a median printed without CI carries. Counts of the large cohort are divided by the
multiplier. A target the large cohort cannot estimate (a median not reached) scores ``PENALTY``.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np
from scipy import optimize, special

from .. import contract, ledger, tokens
from ..kernels._common import Z95
from ..settings import Settings
from . import analysis, model
from .plan import load as load_plan
from .settings import load as load_settings

PENALTY = 10.0  # residual (in SEs) of a target the calibration cohort does not estimate
LOG_KINDS = ("median", "followup", "HR", "OR", "count")
_TRANSFORMS = {
    "identity": (lambda x: x, lambda y: y),
    "log": (np.log, np.exp),
    "logit": (special.logit, special.expit),
}


def targets(paper: str) -> tuple[str, ...]:
    return load_plan(paper).targets


def free(paper: str) -> tuple[str, ...]:
    return load_plan(paper).free


def fit_settings(paper: str) -> dict[str, Any]:
    """What a committed fit was made with (``helpers.calibrate.load`` refuses a fit made otherwise):
    the calibration section and a digest of the model it fits."""
    spec = load_plan(paper).spec
    cal = spec.calibration.model_dump(mode="json")
    model_part = spec.model_dump(mode="json", include={"groups", "covariates", "correlation", "endpoints",
                                                       "censoring", "analysis"})  # fmt: skip
    digest = hashlib.sha256(json.dumps(model_part, sort_keys=True).encode()).hexdigest()[:16]
    return {**cal, "model_digest": digest}


def target_table(paper: str, refs: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """Printed value, scale and SE of each target (from the ledger)."""
    size = _study_size(paper)
    out = []
    for ref in refs:
        row = ledger.lookup(contract.paper_of(paper), ref)
        kind = row.quantity
        scale = "log" if kind in LOG_KINDS else "logit"
        g = _scale(scale)
        v = float(row.value)
        se = _rounding_se(row.printed, v, g)
        lo, hi = _finite(row.lo), _finite(row.hi)
        if lo is not None and hi is not None:
            se = max(se, (g(hi) - g(lo)) / (2 * Z95))
        elif lo is not None or hi is not None:
            se = max(se, abs(g(v) - g(lo if lo is not None else hi)) / Z95)
        elif kind in ("percent", "landmark_survival", "landmark_event", "count"):
            n = _finite(row.n) or size
            share = v / 100 if kind != "count" else v / n
            if 0 < share < 1:
                se = max(se, 1 / math.sqrt(n * share * (1 - share)) if kind != "count" else math.sqrt((1 - share) / v))
        if kind == "count":
            se = max(se, 0.5 / v)  # half a patient
        claim_id, item = ref.split("/")
        out.append({"ref": ref, "claim_id": claim_id, "item": item, "quantity": kind, "reported": v,
                    "scale": scale, "se": float(se)})  # fmt: skip
    return out


def _finite(x) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _scale(name: str):
    if name == "log":
        return lambda x: math.log(x)
    return lambda x: math.log(x / (100 - x))  # logit of a percentage


def _rounding_se(printed: str | None, value: float, g) -> float:
    tok = tokens.parse(printed)
    if tok is None or tok.status != "number":
        return 0.0
    lo, hi = tok.interval()
    try:
        return (g(hi) - g(max(lo, 1e-12))) / math.sqrt(12)
    except ValueError:  # a percentage printed as 0 or 100
        return 0.0


def _study_size(paper: str) -> float:
    spec = load_plan(paper).spec
    s = load_settings(paper, calibrated={})
    return float(sum(model.number(g.n, s, f"groups[{i}].n") for i, g in enumerate(spec.groups)))


def fitted_values(theta: dict[str, float], base: Settings, refs) -> dict[str, float]:
    """Each target re-derived from the calibration cohort at parameters ``theta``."""
    cal = load_plan(base.paper).spec.calibration
    s = base.with_calibrated(theta).scaled(cal.n_multiplier)
    cohort = model.simulate(np.random.default_rng(cal.seed), s)
    draws = analysis.analyse([cohort], s, include=list(refs))
    out = {f"{r.claim_id}/{r.item}": float(r.estimate) for r in draws.itertuples()}
    for ref in refs:
        if ledger.lookup(contract.paper_of(base.paper), ref).quantity == "count":
            out[ref] = out[ref] / cal.n_multiplier
    return out


def residuals(theta: dict[str, float], base: Settings, table: list[dict]) -> np.ndarray:
    fitted = fitted_values(theta, base, [t["ref"] for t in table])
    out = []
    for t in table:
        f, g = fitted.get(t["ref"], math.nan), _scale(t["scale"])
        ok = np.isfinite(f) and f > 0 and (t["scale"] == "log" or f < 100)
        out.append((g(f) - g(t["reported"])) / t["se"] if ok else PENALTY)
    return np.asarray(out)


def calibrate(paper: str, settings: Settings | None = None, start: dict[str, float] | None = None,
              targets: list[str] | tuple[str, ...] | None = None) -> dict[str, Any]:  # fmt: skip
    """Fit the spec's free parameters to its targets (see the module docstring); deterministic.

    ``settings``: assumptions to fit under (default: the paper's); ``start``: a warm start (dict
    of the free parameters); ``targets``: a subset of the targets (leave-one-out refits).
    """
    plan = load_plan(paper)
    cal = plan.spec.calibration
    base = settings if settings is not None else load_settings(paper, calibrated={})
    refs = tuple(targets) if targets is not None else plan.targets
    if unknown := sorted(set(refs) - set(plan.targets)):
        raise ValueError(f"{paper}: {unknown} are not calibration targets ({', '.join(plan.targets)})")
    table = target_table(paper, refs)
    names = list(cal.free)
    fwd = [_TRANSFORMS[cal.free[n].transform][0] for n in names]
    inv = [_TRANSFORMS[cal.free[n].transform][1] for n in names]
    first = {n: cal.free[n].start for n in names} | dict(start or {})
    x0 = np.array([f(first[n]) for f, n in zip(fwd, names, strict=True)], float)
    with np.errstate(divide="ignore"):
        lb = np.array([f(cal.free[n].bounds[0]) for f, n in zip(fwd, names, strict=True)], float)
        ub = np.array([f(cal.free[n].bounds[1]) for f, n in zip(fwd, names, strict=True)], float)
    x0 = np.clip(x0, np.nextafter(lb, ub), np.nextafter(ub, lb))

    def theta_of(x) -> dict[str, float]:
        return {n: float(i(v)) for n, i, v in zip(names, inv, x, strict=True)}

    sol = optimize.least_squares(lambda x: residuals(theta_of(x), base, table), x0, bounds=(lb, ub),
                                 method="trf", diff_step=cal.diff_step, max_nfev=cal.max_nfev,
                                 xtol=cal.tolerance, ftol=cal.tolerance)  # fmt: skip
    theta = theta_of(sol.x)
    fitted = fitted_values(theta, base, refs)
    res = residuals(theta, base, table)
    rows = [{"claim_id": t["claim_id"], "item": t["item"], "reported": t["reported"],
             "fitted": round(fitted.get(t["ref"], math.nan), 6), "weight": round(1 / t["se"] ** 2, 6),
             "residual": round(float(r), 6), "scale": t["scale"]}
            for t, r in zip(table, res, strict=True)]  # fmt: skip
    return {
        "params": {k: round(v, 8) for k, v in theta.items()},
        "targets": rows,
        "objective": round(float(np.sum(res**2)), 6),
        # a fit that leaves a target inestimable (scored PENALTY: a median not reached) has not converged to it
        "converged": bool(sol.status > 0) and not bool(np.any(res == PENALTY)),
        "evaluations": int(sol.nfev),
        "settings": fit_settings(paper),
    }
