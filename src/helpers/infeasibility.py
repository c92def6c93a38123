"""Numbers that cannot all be true: which printed numbers pull against each other.

Two kinds of evidence, one table (``reports/tables/infeasibility.csv``):

- **arithmetic**: the audit (``helpers.audit``) finds printed numbers that no values rounding to
  them can reconcile (a pooled median outside the medians it pools, a percentage no count gives);
- **model fit**: leave-one-target-out refits. The calibration is refitted without one printed
  target (warm start); the dropped number is then *predicted* by the refitted model (the median
  over ``PREDICT_REPLICATES`` simulated studies of the paper's own size, so counts and P values are
  predicted at the size they were printed at) and compared with what was printed, in standard
  errors of the printed number (``standard_error``): the size of the conflict. Dropping a target
  of an exactly identified fit (no more targets than free parameters) leaves a parameter free:
  the others cannot predict it, and the row says so instead of judging. The remaining targets' squared
  residuals fall by ``improvement`` when the number no longer pulls; the target whose residual
  falls most is the one it ``pulls against``. Pairs of the most conflicting targets are dropped
  together too.

A paper's calibration may declare ``CONFLICT_TARGETS`` (printed numbers it can be fitted to
beyond its own ``TARGETS``, e.g. every hazard ratio); the leave-one-out runs over those.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

from . import audit, ledger, paths, replicate, study, tokens
from .io import write_csv_atomic
from .kernels._common import Z95

COLUMNS = ["paper", "kind", "numbers", "printed", "predicted", "conflict_se", "improvement", "pulls_against",
           "explanation"]  # fmt: skip
# same-size studies per prediction: their median's Monte Carlo SE is about 1.25 / sqrt(200) = 0.09
# of one study's SE, small beside the CONFLICT_SE threshold of 2
PREDICT_REPLICATES = 200
SEED = 20230101  # independent of the calibrations' own seeds
CONFLICT_SE = 2.0  # a dropped number predicted more than 2 of its SEs away is in conflict
PAIRS_OF = 3  # the most conflicting targets, dropped in pairs

_LOG = {"HR", "OR", "fold_change", "median", "followup", "count"}


def standard_error(rec: pd.Series) -> tuple[callable, float]:
    """(transform, SE on it) of a printed number: from its printed CI on the natural scale (log for
    ratios and times), else the binomial SE of a percentage, else a P value's z (SE 1).

    Rounding-aware, like the audit: the CI is taken at its widest, each bound at the far end of
    the values that round to it ("1.01-1.02" may be 1.005-1.025), so a per-unit HR printed to two
    decimals is not given a precision its printing does not carry.
    """
    if rec.quantity == "P" or (rec.value is None or (isinstance(rec.value, float) and math.isnan(rec.value))):
        return (lambda p: stats.norm.isf(np.clip(p, 1e-300, 1) / 2)), 1.0
    lo, hi, n = _span(rec, "lo")[0], _span(rec, "hi")[1], rec.n
    if rec.quantity in _LOG:
        if _ok(lo) and _ok(hi) and lo > 0:
            return np.log, (math.log(hi) - math.log(lo)) / (2 * Z95)
        if _ok(lo) and lo > 0:  # upper bound not reached: the lower half-width
            return np.log, (math.log(rec.value) - math.log(lo)) / Z95
        return np.log, 0.1  # no CI printed: 10% on the log scale, stated
    if _ok(lo) and _ok(hi):
        return (lambda x: x), (hi - lo) / (2 * Z95)
    p = rec.value / 100
    size = n if _ok(n) else (rec["count"] / p if _ok(rec["count"]) and p > 0 else 100)
    return (lambda x: x), 100 * math.sqrt(max(p * (1 - p), 1e-4) / size)


def _span(rec: pd.Series, field: str) -> tuple[float, float]:
    """The values that round to a printed field ("value", "lo", "hi" or "p"): its token's interval,
    or the number itself when no token is kept."""
    number = rec.get(field)
    token = tokens.parse(rec.get("printed" if field == "value" else f"{field}_printed"))
    if token is None or not token.is_number:
        return (number, number) if _ok(number) else (math.nan, math.nan)
    return token.interval()


def _ok(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def predict(paper: str, settings, refs: list[str]) -> dict[str, float]:
    """Each ref's typical value in studies of the paper's size at ``settings``: the median over
    ``PREDICT_REPLICATES`` replicates (of the P value, for a printed P)."""
    model, analysis = study.module(paper, "model"), study.module(paper, "analysis")
    draws = replicate.run(lambda r: model.simulate(r, settings),
                          lambda cohorts: analysis.analyse(cohorts, settings, include=refs),
                          seed=SEED, replicates=PREDICT_REPLICATES, n_jobs=1, progress=False)  # fmt: skip
    draws = draws.assign(ref=draws.claim_id + "/" + draws["item"])
    out = {}
    for ref in refs:
        rows = draws[draws.ref == ref]
        values = rows.p if _is_p(paper, ref) else rows.estimate
        out[ref] = float(np.nanmedian(values)) if values.notna().any() else math.nan
    return out


def _is_p(paper: str, ref: str) -> bool:
    try:
        return ledger.lookup(paper, ref).quantity == "P" or ref.endswith("_p")
    except ledger.LedgerError:
        return False


def _printed(paper: str, ref: str) -> float:
    rec = ledger.lookup(paper, ref)
    return float(rec.p if rec.quantity == "P" and not _ok(rec.value) else rec.value)


def conflict(paper: str, ref: str, predicted: float) -> float:
    """How far the prediction is from the printed number, in the printed number's SEs: from the
    nearest value that rounds to the printed token (0 when the prediction itself would print so)."""
    rec = ledger.lookup(paper, ref)
    g, se = standard_error(rec)
    if not (np.isfinite(predicted) and predicted > 0):
        return math.nan
    bare_p = rec.quantity == "P" and not _ok(rec.value)
    a, b = sorted(float(g(x)) for x in _span(rec, "p" if bare_p else "value"))
    x = float(g(predicted))
    return float((x - b) / se if x > b else (x - a) / se if x < a else 0.0)


def leave_out(paper: str, dropped: tuple[str, ...], targets: list[str], full: dict) -> dict:
    """Refit without ``dropped``; their predictions and how much the others' residuals improve."""
    calibration = study.module(paper, "calibration")
    base = study.load_settings(paper)
    kept = [t for t in targets if t not in dropped]
    fit = calibration.calibrate(base.with_calibrated(full["params"]), start=full["params"], targets=kept)
    settings = base.with_calibrated(fit["params"])
    pred = predict(paper, settings, list(dropped))
    before = {f"{t['claim_id']}/{t['item']}": t["residual"] ** 2 for t in full["targets"]}
    after = {f"{t['claim_id']}/{t['item']}": t["residual"] ** 2 for t in fit["targets"]}
    gains = {t: before.get(t, np.nan) - after.get(t, np.nan) for t in kept}
    gains = {t: g for t, g in gains.items() if np.isfinite(g)}
    free = len(getattr(calibration, "FREE", ()))
    return {"pred": pred, "improvement": float(sum(gains.values())) if gains else math.nan,
            "pulls_against": max(gains, key=gains.get) if gains and max(gains.values()) > 0 else "",
            "converged": fit.get("converged", True), "identified": len(kept) >= free,
            "kept": len(kept), "free": free}  # fmt: skip


def model_conflicts(paper: str) -> pd.DataFrame:
    """Leave-one-target-out (and pairs of the worst) for one paper with a calibration."""
    calibration = study.module(paper, "calibration")
    targets = list(getattr(calibration, "CONFLICT_TARGETS", calibration.TARGETS))
    targets = [t for t in targets if t.startswith(ledger.PREFIX[paper] + "-")]
    if len(targets) < 2:
        return pd.DataFrame(columns=COLUMNS)
    base = study.load_settings(paper)
    full = calibration.calibrate(base, start=dict(base.calibrated), targets=targets)
    rows = [_row(paper, (t,), out, [conflict(paper, t, out["pred"][t])])
            for t, out in zip(targets, _leave_each_out(paper, [(t,) for t in targets], targets, full), strict=True)]
    judged = [r for r in rows if np.isfinite(r["conflict_se"])]
    worst = sorted(judged, key=lambda r: -abs(r["conflict_se"]))[:PAIRS_OF]
    pairs = list(itertools.combinations([r["numbers"] for r in worst], 2))
    for pair, out in zip(pairs, _leave_each_out(paper, pairs, targets, full), strict=True):
        rows.append(_row(paper, pair, out, [conflict(paper, r, out["pred"][r]) for r in pair]))
    return pd.DataFrame(rows, columns=COLUMNS)


def _leave_each_out(paper: str, drops: list[tuple[str, ...]], targets: list[str], full: dict) -> list[dict]:
    """``leave_out`` for each of ``drops``, side by side in joblib's workers (each refit is
    independent and seeded alike, so the order of work changes nothing)."""
    from joblib import Parallel, delayed

    return Parallel(n_jobs=replicate.default_workers())(delayed(leave_out)(paper, d, targets, full) for d in drops)


def _row(paper: str, dropped: tuple[str, ...], out: dict, z: list[float]) -> dict:
    size = float(np.sqrt(np.nansum(np.square(z)) / len(z))) if np.isfinite(z).any() else math.nan
    names = " + ".join(dropped)
    # a refit that stopped at its evaluation budget still improved on its start (never worse):
    # its prediction stands, with the caveat that a longer fit could move it
    stopped = "" if out["converged"] else " (the refit stopped at its evaluation budget)"
    if not out["identified"]:
        size = math.nan
        why = (f"no conclusion: without it {out['kept']} targets remain for {out['free']} free parameters, "
               "so the others cannot predict it (the fit is exactly identified)")
    elif np.isfinite(size) and size > CONFLICT_SE:
        why = (f"the model fitted to the other targets predicts {_fmt_pred(out['pred'])}, {size:.1f} SE from "
               f"what was printed" + (f"; it pulls most against {out['pulls_against']}" if out["pulls_against"] else "")
               + stopped)  # fmt: skip
    else:
        why = "consistent with the other targets within sampling error" + stopped
    return {"paper": paper, "kind": "model fit", "numbers": names,
            "printed": "; ".join(f"{_printed(paper, r):g}" for r in dropped),
            "predicted": _fmt_pred(out["pred"]), "conflict_se": size, "improvement": out["improvement"],
            "pulls_against": out["pulls_against"], "explanation": why}  # fmt: skip


def _fmt_pred(pred: dict[str, float]) -> str:
    return "; ".join(f"{v:.3g}" for v in pred.values())


def arithmetic(paper: str) -> pd.DataFrame:
    """The audit's findings: printed numbers no rounding can reconcile."""
    found = audit.findings(audit.audit([paper]), paper)
    rows = [{"paper": paper, "kind": "arithmetic", "numbers": f"{r.claim_id}/{r.item}", "printed": "",
             "predicted": "", "conflict_se": math.nan, "improvement": math.nan, "pulls_against": "",
             "explanation": f"audit, {r.check}: {r.detail}"} for r in found.itertuples()]  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def table(papers=None) -> pd.DataFrame:
    """Both kinds for every paper (model fit only where a calibration exists)."""
    parts = []
    for paper in papers or ledger.PAPERS:
        parts.append(arithmetic(paper))
        if study.has_calibration(paper):
            parts.append(model_conflicts(paper))
    return pd.concat([p for p in parts if len(p)], ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def write(df: pd.DataFrame) -> None:
    write_csv_atomic(df, paths.DATA / "sensitivity" / "infeasibility.csv")
    write_csv_atomic(df, paths.tables_dir() / "infeasibility.csv")


def load() -> pd.DataFrame | None:
    p = paths.DATA / "sensitivity" / "infeasibility.csv"
    return pd.read_csv(p) if p.exists() else None
