"""Conditional predictive bands: each held-out number given everything else the paper printed.

Today's band (``mc_*``) answers "what would another study of this size show, were the fitted
parameters exactly true?". The conditional band (``cond_*``) answers "given the printed targets of
*these* patients, where should this number of the same patients lie?": the kept particles of the
paper's posterior (``helpers.posterior``), each with the cohort that matched the targets, drawn
again and re-analysed in full, so that every held-out number comes from the same patients as the
targets it was conditioned on (parameter uncertainty included, and the correlation between numbers
of the same patients kept). The kept cohorts match the targets only within the final tolerance;
a local-linear regression adjustment (Beaumont, Zhang and Balding, Genetics 2002) moves each held-out
number to where it would be at an exact match.

``make calibrate`` writes ``data/calibrated/<paper>_posterior.json`` (diagnostics) and
``<paper>_conditional.csv.gz`` (the draws); ``attach`` adds the ``cond_*`` columns to a results
table from those committed files, with the verdicts of ``helpers.verdicts`` computed on the
conditional draws; ``compare`` and ``report_table`` show both bands where they differ most.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import ledger, paths, posterior, replicate, results
from .io import write_json_atomic

COLUMNS = results.CONDITIONAL_COLUMNS
BAND_QUESTION = {
    "independent": "another study of this size, were the fitted parameters exactly true",
    "conditional": "these patients, given the other numbers the paper printed (parameter uncertainty included)",
}
SCALE_OF = {**dict.fromkeys(posterior.LOG_KINDS, "log"), **dict.fromkeys(posterior.PERCENT_KINDS, "logit")}


def draws_path(paper: str):
    return paths.CALIBRATED / f"{paper}_conditional.csv.gz"


def summary_path(paper: str):
    return paths.CALIBRATED / f"{paper}_posterior.json"


# ------------------------------------------------------------------ regression adjustment


def adjust(values: np.ndarray, z: np.ndarray, scale: str, weights: np.ndarray | None = None) -> np.ndarray:
    """Held-out ``values`` (m,) of kept cohorts moved to an exact match of the targets: on the
    value's residual scale, the least-squares slope on the targets' z-scores ``z`` (m, k) is
    removed (the printed targets have z = 0); with ``weights`` (importance weights of weighted
    particles) by weighted least squares. Values not finite on the scale stay as they are."""
    g = posterior.transform(scale, values)
    ok = np.isfinite(g) & np.isfinite(z).all(axis=1)
    if ok.sum() < 5 * (z.shape[1] + 1) or np.ptp(g[ok]) == 0:
        return np.asarray(values, float)
    x = np.column_stack([np.ones(ok.sum()), z[ok]])
    root = np.ones(ok.sum()) if weights is None else np.sqrt(np.asarray(weights, float)[ok])
    beta, *_ = np.linalg.lstsq(x * root[:, None], g[ok] * root, rcond=None)
    out = np.asarray(values, float).copy()
    out[ok] = _inverse(scale, g[ok] - z[ok] @ beta[1:])
    return out


def _inverse(scale: str, g: np.ndarray) -> np.ndarray:
    if scale == "log":
        return np.exp(g)
    if scale == "logit":
        return 100 / (1 + np.exp(-g))
    if scale == "z":
        from scipy import special

        return 2 * special.ndtr(-g)
    return g


def adjust_draws(draws: pd.DataFrame, z: np.ndarray, paper: str, weights: np.ndarray | None = None) -> pd.DataFrame:
    """``adjust`` every numeric item of long draws (rep = row of ``z``, and of ``weights`` if
    given): estimates on their quantity's scale, P values on the normal-quantile scale.
    Qualitative items (a direction) and items outside the ledger stay as they are."""
    quantity = {f"{r.claim_id}/{r.item}": r.quantity for r in ledger.frame(paper).itertuples()}
    out = draws.copy()
    for (cid, item), g in out.groupby(["claim_id", "item"], sort=False):
        q = quantity.get(f"{cid}/{item}")
        if q is None or q == "qualitative":
            continue
        reps = g["rep"].to_numpy(int)
        zz = z[reps]
        w = None if weights is None else weights[reps]
        if q != "P":
            out.loc[g.index, "estimate"] = adjust(g["estimate"].to_numpy(float), zz, SCALE_OF.get(q, "identity"), w)
        if g["p"].notna().any():
            out.loc[g.index, "p"] = adjust(g["p"].to_numpy(float), zz, "z", w)
    return out


# ------------------------------------------------------------------ make calibrate: fit, draw again, write


def inputs(paper: str) -> dict[str, Any]:
    """Everything the committed posterior depends on (its hash is the currency check)."""
    from . import assumptions, contract

    prob = posterior.problem(paper)
    cal = contract.module(paper, "calibration")
    return {
        "settings": posterior.SETTINGS,
        "priors": {k: list(v) for k, v in prob.bounds.items()},
        "targets": [[t.ref, t.printed, t.scale, round(t.se, 10)] for t in prob.targets],
        "assumed": assumptions.load(paper),
        "calibration": getattr(cal, "SETTINGS", None),
        "committed_fit": {k: round(float(v), 8) for k, v in prob.settings.calibrated.items()},
    }


def inputs_hash(paper: str) -> str:
    blob = json.dumps(inputs(paper), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def compute(paper: str, *, backend: str = "batched", workers: int = 2, client=None,
            population: int | None = None, budget: int | None = None) -> tuple[dict, pd.DataFrame]:  # fmt: skip
    """The posterior of ``paper`` and its conditional draws: (summary, long draws)."""
    prob = posterior.problem(paper)
    s = posterior.SETTINGS
    f = posterior.fit(prob, population=population or s["population"], budget=budget or s["budget"],
                      backend=backend, workers=workers, client=client)  # fmt: skip
    t0 = time.perf_counter()
    draws, idx, same = kept_draws(prob, f, np.random.default_rng(s["seed"]))
    predictive = _predictive(prob, f.theta[idx], s["seed"] + 1)
    summary = {
        "paper": paper,
        "inputs_hash": inputs_hash(paper),
        "settings": s,
        "backend": f.backend,
        "reproducible": f.backend in posterior.DETERMINISTIC,  # the same seed gives this file again
        "seconds": {"abc_smc": round(f.seconds, 1), "conditional_draws": round(time.perf_counter() - t0, 1)},
        "simulations": int(sum(g["simulations"] for g in f.generations)),
        "generations": f.generations,
        "final": {"epsilon": f.generations[-1]["epsilon"], "ess": round(f.ess, 1), "particles": len(f.weights),
                  "draws": len(idx), "regenerated_targets_identical": same},  # fmt: skip
        "priors": {k: list(v) for k, v in prob.bounds.items()},
        "posterior": _parameter_summary(prob, f),
        "targets_predictive": predictive,
    }
    return summary, draws


def kept_draws(prob, f: posterior.Fit, rng: np.random.Generator, size: int | None = None) -> tuple[pd.DataFrame, np.ndarray, bool]:
    """The conditional draws of a posterior ``f``: ``size`` kept particles resampled by weight (default
    all), their cohorts simulated again from their seeds and analysed with every printed number, then
    (``SETTINGS["regression_adjustment"]``) adjusted to an exact match of the targets. Returns (long
    draws, rep = resampled particle; the particles' indices; whether the cohorts simulated again gave
    the kept targets' z-scores, as they must)."""
    idx = posterior.resample(f, rng, size)
    theta, seeds, z = f.theta[idx], f.seeds[idx], f.z[idx]
    parts = []
    for i in range(0, len(idx), posterior.CHUNK):
        d = prob.draws(theta[i : i + posterior.CHUNK], seeds[i : i + posterior.CHUNK])
        parts.append(d.assign(rep=d["rep"] + i))
    draws = pd.concat(parts, ignore_index=True)
    again = _target_z(prob, draws, len(idx))
    same = bool(np.allclose(np.where(np.isfinite(again), again, 0), np.where(np.isfinite(z), z, 0), atol=1e-8))
    if posterior.SETTINGS["regression_adjustment"]:
        draws = adjust_draws(draws, z, prob.paper)
    return draws, idx, same


def _target_z(prob, draws: pd.DataFrame, m: int) -> np.ndarray:
    refs = [t.ref for t in prob.targets]
    out = np.full((m, len(refs)), np.nan)
    key = draws["claim_id"] + "/" + draws["item"]
    for j, t in enumerate(prob.targets):
        g = draws[key == t.ref]
        out[g["rep"].to_numpy(int), j] = g["p" if t.quantity == "P" else "estimate"].to_numpy(float)
    return posterior.zscores(prob.targets, out)


def _parameter_summary(prob, f) -> dict[str, dict[str, float]]:
    out = {}
    for j, k in enumerate(prob.free):
        x, w = f.theta[:, j], f.weights
        o = np.argsort(x)
        c = np.cumsum(w[o])
        q = [float(x[o][min(np.searchsorted(c, p), len(x) - 1)]) for p in (0.025, 0.5, 0.975)]
        mean = float(np.sum(w * x))
        out[k] = {"mean": round(mean, 5), "sd": round(float(np.sqrt(np.sum(w * (x - mean) ** 2))), 5),
                  "q2.5": round(q[0], 5), "q50": round(q[1], 5), "q97.5": round(q[2], 5),
                  "committed_fit": round(float(prob.settings.calibrated.get(k, np.nan)), 5)}  # fmt: skip
    return out


def _predictive(prob, theta: np.ndarray, seed: int) -> list[dict]:
    """Posterior predictive fit of the targets: fresh cohorts (new seeds) at the posterior draws;
    where each printed target falls among them."""
    refs = [t.ref for t in prob.targets]
    seeds = [posterior.cohort_seed(seed, row) for row in theta]
    sims = np.vstack([prob.summaries(theta[i : i + posterior.CHUNK], seeds[i : i + posterior.CHUNK], refs)
                      for i in range(0, len(theta), posterior.CHUNK)])  # fmt: skip
    out = []
    for j, t in enumerate(prob.targets):
        x = sims[:, j][~np.isnan(sims[:, j])]
        lo, med, hi = replicate.band(x) if x.size else (np.nan,) * 3
        out.append({"ref": t.ref, "printed": t.printed, "lo": _r(lo), "median": _r(med), "hi": _r(hi),
                    "percentile": _r(float(np.mean(x <= t.value)) if x.size else np.nan)})  # fmt: skip
    return out


def _r(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(f"{x:.6g}")


def write(paper: str, summary: dict, draws: pd.DataFrame) -> None:
    """Commit-ready files: the summary JSON and the draws (wide, 6 significant digits, gzip)."""
    wide = _wide(draws)
    tmp = draws_path(paper).with_suffix(".tmp.gz")
    wide.to_csv(tmp, index=False, float_format="%.6g", compression={"method": "gzip", "mtime": 0})
    tmp.replace(draws_path(paper))
    write_json_atomic(summary, summary_path(paper))


def _wide(draws: pd.DataFrame) -> pd.DataFrame:
    d = draws.assign(ref=draws["claim_id"] + "/" + draws["item"])
    est = d.pivot_table(index="rep", columns="ref", values="estimate", aggfunc="first", dropna=False)
    p = d[d["p"].notna()].pivot_table(index="rep", columns="ref", values="p", aggfunc="first")
    p.columns = [f"{c}|p" for c in p.columns]
    return est.join(p).reset_index()


def has_targets(paper: str) -> bool:
    """Does the paper fit printed numbers (so a posterior given them exists)?"""
    from . import contract

    cal = contract.module(paper, "calibration")
    return cal is not None and bool(tuple(getattr(cal, "TARGETS", ())))


class cluster:
    """A Dask client for pyabc's Dask sampler (``backend == "dask"``): the scheduler at
    DASK_SCHEDULER_ADDRESS, else a local cluster of ``workers`` single-threaded workers; None otherwise."""

    def __init__(self, backend: str, workers: int = 2):
        self.backend, self.workers, self.client, self.local = backend, workers, None, None

    def __enter__(self):
        if self.backend == "dask":
            import os

            from dask.distributed import Client, LocalCluster

            address = os.environ.get("DASK_SCHEDULER_ADDRESS")
            if address:
                self.client = Client(address)
            else:
                self.local = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                          dashboard_address=None)  # fmt: skip
                self.client = Client(self.local)
        return self.client

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.local is not None:
            self.local.close()
        return False


def run(papers: Iterable[str], **kwargs) -> None:
    for paper in papers:
        summary, draws = compute(paper, **kwargs)
        write(paper, summary, draws)
        f = summary["final"]
        print(f"{paper}: posterior from {summary['simulations']} cohorts in {summary['seconds']['abc_smc']:.0f} s "
              f"(final RMS z {f['epsilon']:.2f}, ESS {f['ess']:.0f}) -> {summary_path(paper).name}, "
              f"{draws_path(paper).name}")  # fmt: skip


# ------------------------------------------------------------------ reading the committed posterior


def papers() -> tuple[str, ...]:
    """Papers with a committed posterior."""
    return tuple(p for p in ledger.PAPERS if summary_path(p).exists())


def load(paper: str) -> tuple[dict, pd.DataFrame]:
    """(summary, long draws) of the committed posterior; refused when missing or stale."""
    spath, dpath = summary_path(paper), draws_path(paper)
    if not spath.exists() or not dpath.exists():
        raise posterior.PosteriorError(f"{paper}: no committed posterior ({spath.name}): run `make calibrate`")
    summary = json.loads(spath.read_text(encoding="utf-8"))
    if summary.get("inputs_hash") != inputs_hash(paper):
        raise posterior.PosteriorError(f"{spath} was computed from other inputs (stale): run `make calibrate` and commit it")
    wide = pd.read_csv(dpath)
    return summary, _long(wide)


def _long(wide: pd.DataFrame) -> pd.DataFrame:
    est = wide.melt(id_vars="rep", value_vars=[c for c in wide.columns if c != "rep" and not c.endswith("|p")],
                    var_name="ref", value_name="estimate")  # fmt: skip
    pcols = [c for c in wide.columns if c.endswith("|p")]
    if pcols:
        p = wide.melt(id_vars="rep", value_vars=pcols, var_name="ref", value_name="p")
        p["ref"] = p["ref"].str[:-2]
        est = est.merge(p, on=["rep", "ref"], how="left")
    else:
        est["p"] = np.nan
    est[["claim_id", "item"]] = est["ref"].str.split("/", n=1, expand=True)
    return est.drop(columns="ref").reindex(columns=replicate.DRAW_COLUMNS)


def attach(paper: str, table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the conditional band and verdict columns (``COLUMNS``) beside today's ones;
    unchanged (columns empty) when the paper has no committed posterior."""
    out = table.copy()
    for c in COLUMNS:
        out[c] = np.nan if c != "cond_status" else None
    if not summary_path(paper).exists():
        return out
    _, draws = load(paper)
    base = table.copy()
    for c in _MC_AND_VERDICT:
        base[c] = None
    base["status"] = table["status"].where(table["status"] == "not-implemented")
    cond = results.finalise(replicate.summarise(draws, base))
    out["cond_lo"], out["cond_median"], out["cond_hi"] = cond["mc_lo"], cond["mc_median"], cond["mc_hi"]
    out["cond_percentile_lo"], out["cond_percentile_hi"] = cond["percentile_lo"], cond["percentile_hi"]
    out["cond_check_power"] = cond["check_power"]
    out["cond_status"] = np.where(cond["mc_median"].notna(), cond["status"], None)
    return out


_MC_AND_VERDICT = ("mc_lo", "mc_median", "mc_hi", "within_band", "percentile_lo", "percentile_hi", "percentile_mcse",
                   "band_position", "alternative", "check_power", "power", "p_reach", "exaggeration",
                   "ci_excludes_null", "reason")  # fmt: skip


def compare(table: pd.DataFrame, top: int = 8, roles: Sequence[str] = ("held-out",)) -> pd.DataFrame:
    """The items whose two bands differ most (a changed status first, then the width ratio), for display."""
    if "cond_median" not in table:  # a run with moved assumptions: the committed posterior is not its own
        return pd.DataFrame([{"conditional band": "none: this run moved an assumption, and the committed "
                              "posterior belongs to the assumptions as committed"}])  # fmt: skip
    t = table[table["role"].isin(roles) & table["cond_median"].notna() & table["mc_median"].notna()].copy()
    if t.empty:
        return pd.DataFrame()
    width = (t["mc_hi"] - t["mc_lo"]).astype(float)
    cwidth = (t["cond_hi"] - t["cond_lo"]).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t["width_ratio"] = cwidth / width
    t["changed"] = t["status"] != t["cond_status"]
    score = np.abs(np.log(t["width_ratio"].where(t["width_ratio"] > 0)))
    t = t.assign(_score=score.fillna(np.inf)).sort_values(["changed", "_score"], ascending=False).head(top)
    shown = results.display(t, ["claim_id", "item", "reported", "mc_lo", "mc_hi", "status"])
    cond = results.display(t.assign(mc_lo=t["cond_lo"], mc_hi=t["cond_hi"]), ["mc_lo", "mc_hi"])
    shown.insert(5, "cond_lo", cond["mc_lo"])
    shown.insert(6, "cond_hi", cond["mc_hi"])
    shown["cond_status"] = t["cond_status"].to_numpy()
    shown["width_ratio"] = [f"{v:.2f}" if np.isfinite(v) else "" for v in t["width_ratio"]]
    return shown


def status_changes(table: pd.DataFrame, roles: Sequence[str] = ("held-out",)) -> pd.DataFrame:
    """Counts of (independent-study status, conditional status) over the judged items."""
    if "cond_status" not in table:
        return compare(table)
    t = table[table["role"].isin(roles) & table["cond_status"].notna()]
    return pd.crosstab(t["status"], t["cond_status"])


def diagnostics(paper: str) -> pd.DataFrame:
    """The committed posterior's run, one row: simulated cohorts, generations, final tolerance (RMS z),
    last acceptance rate, effective sample size, whether the kept cohorts were drawn again exactly,
    and whether ``make calibrate`` re-run gives the same file (a deterministic sampler)."""
    if not summary_path(paper).exists():
        return pd.DataFrame([{"posterior": "none committed yet: run `make calibrate`"}], index=[paper])
    summary, _ = load(paper)
    f, last = summary["final"], summary["generations"][-1]
    return pd.DataFrame([{"cohorts simulated": summary["simulations"], "generations": len(summary["generations"]),
                          "final RMS z": f"{f['epsilon']:.2f}", "acceptance": f"{100 * last['acceptance_rate']:.1f}%",
                          "ESS": f"{f['ess']:.0f}", "conditional draws": f["draws"],
                          "targets drawn again exactly": "yes" if f["regenerated_targets_identical"] else "no",
                          "re-run gives it again": "yes" if summary.get("reproducible") else "no"}],
                        index=[paper])  # fmt: skip


def _compared(tables: Iterable[pd.DataFrame] | None, top: int):
    """(table, ``compare`` of it) for each results table with conditional bands (default: the saved ones)."""
    if tables is None:
        tables = [pd.read_csv(p) for p in sorted(paths.results_dir().glob("*.csv"))]
    for t in tables:
        if "cond_median" in t and t["cond_median"].notna().any():
            yield t, compare(t, top=top)


def report_table(tables: Iterable[pd.DataFrame] | None = None, top: int = 3) -> pd.DataFrame:
    """For the report: per paper, the held-out items whose two bands differ most (``compare``),
    from the saved results tables (``reports/tables/results/*.csv``) unless ``tables`` are given."""
    parts = [shown.assign(paper=t["paper"].iloc[0]) if "paper" in t else shown for t, shown in _compared(tables, top)]
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True).drop_duplicates(["claim_id", "item"])
    return out[["paper", *[c for c in out.columns if c != "paper"]]]


def report_figure(tables: Iterable[pd.DataFrame] | None = None, top: int = 3):
    """For the report: both bands (today's grey, conditional blue) and the printed value (dot) of the
    items of ``report_table``, each on its own scale relative to today's band."""
    import matplotlib.pyplot as plt

    rows = []
    for t, shown in _compared(tables, top):
        keys = set(zip(shown["claim_id"], shown["item"], strict=True))
        rows.append(t[[k in keys for k in zip(t["claim_id"], t["item"], strict=True)]])
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(1, sum(len(r) for r in rows)) + 1))
    if not rows:
        ax.set_axis_off()
        return fig
    data = pd.concat(rows, ignore_index=True).drop_duplicates(["claim_id", "item"])
    centre, half = (data.mc_hi + data.mc_lo) / 2, (data.mc_hi - data.mc_lo) / 2

    def rel(x):
        return (x - centre) / half

    y = np.arange(len(data))
    ax.hlines(y + 0.12, rel(data.mc_lo), rel(data.mc_hi), color="0.6", lw=4, label="another study of this size")
    ax.hlines(y - 0.12, rel(data.cond_lo), rel(data.cond_hi), color="tab:blue", lw=4, label="these patients, given the targets")
    ax.plot(rel(data.reported), y, "ko", ms=4, label="printed")
    ax.set_yticks(y, [f"{c}/{i}" for c, i in zip(data.claim_id, data["item"], strict=True)], fontsize=8)
    ax.set_xlabel("position relative to today's 95% band (-1 to 1)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
