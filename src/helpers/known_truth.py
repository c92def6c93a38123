"""A toy "paper" whose truth is known: the test bed of the conditional bands (issue 18).

One single-arm survival study as a paper would print it: ``N`` = 238 patients, Weibull survival
(median ``median`` months, shape ``shape``), accrual uniform over ``ACCRUAL`` months and the data
cut ``MIN_FOLLOWUP`` months after the last patient entered. The paper prints the Kaplan–Meier
median with its 95% CI (one decimal, months) and the landmark survival at 6 and 12 months (percent,
one decimal). The median is the calibration target; S(6) and S(12) of the same patients are held
out. ``Toy`` has the interface ``helpers.posterior`` fits (``free``, ``bounds``, ``targets``,
``summaries``), so the known-truth checks run the very code the papers run.

``independent_band`` is today's band: the median's scale fitted to the printed median (the
assumed shape held), then same-size studies simulated from that fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .kernels import kaplan_meier, median, survival_at

if TYPE_CHECKING:
    import pandas as pd

N = 238
ACCRUAL = 24.0  # months of uniform accrual
MIN_FOLLOWUP = 12.0  # months from the last entry to the data cut
LANDMARKS = {"s6": 6.0, "s12": 12.0}
TRUE_SHAPE = 0.8  # the toy: Weibull shape 0.8
# prior of the median (months): uniform; the truth of each simulated paper is drawn from it too,
# so the predictive intervals' coverage is nominal on average over papers (exact Bayes)
MEDIAN_RANGE = (3.0, 15.0)
SHAPE_RANGE = (0.5, 1.5)
ITEMS = ("median", "s6", "s12")
QUANTITY = {"median": "median", "s6": "landmark_survival", "s12": "landmark_survival"}
DECIMALS = 1  # every printed number has one decimal


def simulate(rng: np.random.Generator, median_months: np.ndarray, shape: np.ndarray, n: int = N):
    """(time, event) arrays (m, n) of m cohorts, one per row of the parameter arrays."""
    med = np.asarray(median_months, float).reshape(-1, 1)
    k = np.broadcast_to(np.asarray(shape, float).reshape(-1, 1), med.shape)
    scale = med / math.log(2) ** (1 / k)
    t = scale * rng.standard_exponential((med.shape[0], n)) ** (1 / k)
    cut = ACCRUAL + MIN_FOLLOWUP - ACCRUAL * rng.random((med.shape[0], n))  # time from entry to the cut
    return np.minimum(t, cut), (t <= cut).astype(float)


def summarise(time: np.ndarray, event: np.ndarray) -> dict[str, np.ndarray]:
    """What the paper prints, unrounded: KM median with CI (months), S(6), S(12) (percent)."""
    km = kaplan_meier(time, event)
    med, lo, hi = median(km)
    surv = survival_at(km, list(LANDMARKS.values()))[0] * 100
    return {"median": med, "median_lo": lo, "median_hi": hi,
            **{name: surv[:, j] for j, name in enumerate(LANDMARKS)}}  # fmt: skip


def printed(values: Mapping[str, float]) -> dict[str, str]:
    """Each number as the paper prints it (one decimal; "NR" for a median not reached)."""
    return {k: ("NR" if not np.isfinite(v) else f"{v:.{DECIMALS}f}") for k, v in values.items()}


@dataclass
class Toy:
    """A simulated paper: what it printed, and the model ``helpers.posterior`` conditions on it.

    ``free``: the parameters given a prior (the median; and the shape when ``shape`` is None);
    ``shape``: the assumed shape otherwise (the truth, or a wrong assumption).
    """

    tokens: dict[str, str]
    shape: float | None = TRUE_SHAPE
    name: str = "toy"
    free: tuple[str, ...] = field(init=False)
    bounds: dict[str, tuple[float, float]] = field(init=False)
    targets: tuple = field(init=False)
    held_out: tuple[str, ...] = ("s6", "s12")

    def __post_init__(self):
        from .posterior import Target, target_scale

        self.free = ("median",) if self.shape is not None else ("median", "shape")
        self.bounds = {"median": MEDIAN_RANGE, **({} if self.shape is not None else {"shape": SHAPE_RANGE})}
        scale, se = target_scale("median", self.tokens["median"], self.tokens["median_lo"], self.tokens["median_hi"], n=N)
        self.targets = (Target("median", "median", self.tokens["median"], float(self.tokens["median"]), scale, se),)

    def summaries(self, theta: np.ndarray, seeds: Sequence[int], refs: Sequence[str]) -> np.ndarray:
        """(m, len(refs)) printed quantities of one cohort per parameter row, each from its own seed."""
        theta = np.atleast_2d(np.asarray(theta, float))
        shape = theta[:, 1] if self.shape is None else np.full(len(theta), self.shape)
        rows = []
        for s, med, k in zip(seeds, theta[:, 0], shape, strict=True):
            rows.append(simulate(np.random.default_rng(int(s)), med, k))
        time, event = (np.concatenate(x) for x in zip(*rows, strict=True))
        out = summarise(time, event)
        return np.column_stack([out[r] for r in refs])


def paper(rng: np.random.Generator, median_months: float, shape: float = TRUE_SHAPE) -> tuple[dict[str, str], dict[str, float]]:
    """One simulated paper: (printed tokens, unrounded values) of one cohort from the truth."""
    time, event = simulate(rng, np.array([median_months]), np.array([shape]))
    values = {k: float(v[0]) for k, v in summarise(time, event).items()}
    return printed(values), values


def independent_band(rng: np.random.Generator, tokens: Mapping[str, str], shape: float = TRUE_SHAPE,
                     replicates: int = 300) -> dict[str, tuple[float, float]]:  # fmt: skip
    """Today's band: the median fitted to the printed one (Weibull median = printed median, the
    assumed ``shape`` held), then ``replicates`` same-size studies; 2.5th and 97.5th percentiles of
    each held-out item."""
    fitted = float(tokens["median"])
    time, event = simulate(rng, np.full(replicates, fitted), np.full(replicates, shape))
    out = summarise(time, event)
    return {k: tuple(np.nanquantile(out[k], [0.025, 0.975])) for k in LANDMARKS}


# ------------------------------------------------------------------ the known-truth coverage study

STUDY_SEED = 20260602
HALF_STEP = 0.5 * 10.0**-DECIMALS  # half the printed rounding step of the median
REFERENCE_SIZE = 40_000  # prior draws of a rejection posterior
KEEP = 1_000  # of which the closest are kept (2.5%)
# the assumed shapes of the study: the truth, a wrong one (exponential), and none (a prior over it)
ASSUMPTIONS = {"true shape 0.8": TRUE_SHAPE, "exponential (shape 1)": 1.0, "shape free (prior 0.5-1.5)": None}
PRIOR_CENTRE_SHAPE = float(np.mean(SHAPE_RANGE))  # today's band needs one shape: with the shape free, the prior's centre


def reference(rng: np.random.Generator, shape_assumed: float | None, simulations: int = REFERENCE_SIZE,
              chunk: int = 20_000) -> dict[str, np.ndarray]:  # fmt: skip
    """A reference table: ``simulations`` draws from the prior (the median; the shape too when
    ``shape_assumed`` is None), each with its cohort's printed quantities (unrounded)."""
    parts = []
    for start in range(0, simulations, chunk):
        m = min(chunk, simulations - start)
        med = rng.uniform(*MEDIAN_RANGE, m)
        shape = np.full(m, shape_assumed) if shape_assumed is not None else rng.uniform(*SHAPE_RANGE, m)
        parts.append({"theta_median": med, "theta_shape": shape, **summarise(*simulate(rng, med, shape))})
    return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}


def rejection(toy: Toy, table: Mapping[str, np.ndarray], keep: int = KEEP):
    """The posterior of ``toy`` by plain rejection: of the prior draws in ``table`` (``reference``),
    the ``keep`` closest in the same RMS z-distance that ABC-SMC uses; the same conditioning as
    ``posterior.fit``, vectorised (each kept cohort's held-out numbers are in the table already).
    Returns (``posterior.Fit`` with equal weights, held-out values (keep, 2) in ``LANDMARKS`` order)."""
    from . import posterior

    if toy.shape is not None and not np.all(table["theta_shape"] == toy.shape):
        raise ValueError(f"the reference table was not drawn with the assumed shape {toy.shape}: "
                         "build it with reference(rng, shape_assumed) for the same shape")  # fmt: skip
    theta = np.column_stack([table["theta_median"], *([table["theta_shape"]] if toy.shape is None else [])])
    z = posterior.zscores(toy.targets, np.column_stack([table[t.ref] for t in toy.targets]))
    d = posterior.distance(z)
    best = np.argpartition(d, keep - 1)[:keep]
    best = best[np.argsort(d[best], kind="stable")]
    gen = {"generation": 0, "epsilon": round(float(d[best[-1]]), 4), "simulations": len(d), "accepted": keep,
           "acceptance_rate": keep / len(d), "ess": float(keep)}  # fmt: skip
    f = posterior.Fit(theta[best], np.full(keep, 1 / keep), z[best], np.zeros(keep, np.uint64), [gen], 0.0, "rejection")
    return f, np.column_stack([table[k][best] for k in LANDMARKS])


def one_paper(seed_seq: np.random.SeedSequence, shape_assumed: float | None = TRUE_SHAPE, method: str = "rejection",
              table: Mapping[str, np.ndarray] | None = None, simulations: int = REFERENCE_SIZE, keep: int = KEEP,
              replicates: int = 300) -> list[dict]:  # fmt: skip
    """One simulated paper (truth: median from the prior, shape ``TRUE_SHAPE``): its held-out S(6)
    and S(12) against the conditional band (with and without the regression adjustment) and
    against today's independent-study band, both computed under ``shape_assumed`` (None: the shape
    is free, its prior ``SHAPE_RANGE``; today's band then assumes the prior's centre).

    ``method``: "rejection" (``rejection``: the ``keep`` closest of ``table`` when given, which many
    papers may share, else of a fresh ``reference`` of ``simulations`` draws of this paper's own)
    or "pyabc" (``posterior.fit`` with the papers' own settings, ``posterior.SETTINGS``)."""
    from . import conditional, posterior

    rng = np.random.default_rng(seed_seq)
    truth = float(rng.uniform(*MEDIAN_RANGE))
    tokens, _ = paper(rng, truth)
    if tokens["median"] == "NR":
        return []
    toy = Toy(tokens, shape=shape_assumed)
    held = list(LANDMARKS)
    if method == "pyabc":
        f = posterior.fit(toy, seed=int(rng.integers(2**31)), backend="batched", workers=1)
        idx = posterior.resample(f, rng)
        sims = toy.summaries(f.theta[idx], f.seeds[idx], held)  # the kept cohorts, drawn again
        label = "pyabc"
    else:
        own = table is None
        f, sims = rejection(toy, reference(rng, shape_assumed, simulations) if own else table, keep)
        idx = np.arange(len(f.weights))
        label = "rejection, own table" if own else "rejection, shared table"
    independent = independent_band(rng, tokens, shape_assumed if shape_assumed is not None else PRIOR_CENTRE_SHAPE, replicates)
    rows = []
    for j, item in enumerate(held):
        printed_lo, printed_hi = float(tokens[item]) - HALF_STEP, float(tokens[item]) + HALF_STEP
        bands = {"conditional": _central(conditional.adjust(sims[:, j], f.z[idx], "logit")),
                 "conditional_unadjusted": _central(sims[:, j]), "independent": independent[item]}  # fmt: skip
        row = {"method": label, "assumed": _label(shape_assumed),
               "shape_assumed": shape_assumed if shape_assumed is not None else np.nan,
               "truth_median": round(truth, 3), "item": item, "printed": tokens[item],
               "final_epsilon": f.generations[-1]["epsilon"], "ess": round(f.ess, 1), "draws": len(idx),
               "simulations": int(sum(g["simulations"] for g in f.generations))}  # fmt: skip
        for name, (lo, hi) in bands.items():
            row[f"{name}_lo"], row[f"{name}_hi"] = lo, hi
            row[f"{name}_covers"] = bool(lo <= printed_hi and printed_lo <= hi)
        rows.append(row)
    return rows


def _label(shape_assumed: float | None) -> str:
    """The study's name of an assumed shape (``ASSUMPTIONS``); any other shape by its value."""
    return next((k for k, v in ASSUMPTIONS.items() if v == shape_assumed), f"shape {shape_assumed}")


def _central(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    return tuple(float(v) for v in np.quantile(x, [0.025, 0.975])) if x.size else (np.nan, np.nan)


def study(papers: int, *, shape_assumed: float | None = TRUE_SHAPE, seed: int = STUDY_SEED, method: str = "rejection",
          shared: bool = True, simulations: int = REFERENCE_SIZE, keep: int = KEEP, n_jobs: int = 2) -> pd.DataFrame:  # fmt: skip
    """``papers`` simulated papers (one row per paper and held-out item); see ``one_paper``.

    ``shared`` (rejection only): one reference table of ``simulations`` prior draws serves every
    paper. Each paper's posterior is then the same estimator as with a table of its own (the same
    number of prior draws, the same ``keep``), only no longer independent of the other papers';
    building the table once makes a thousand papers take seconds. The table's generator is spawned
    from ``seed`` apart from the papers', and paper i has the same seed (so the same truth and the
    same printed numbers) whatever the method, the assumption or the number of papers."""
    import pandas as pd
    from joblib import Parallel, delayed

    table_seq, *seqs = np.random.SeedSequence(seed).spawn(papers + 1)
    if method == "rejection" and shared:
        table = reference(np.random.default_rng(table_seq), shape_assumed, simulations)
        parts = [one_paper(s, shape_assumed, method, table, keep=keep) for s in seqs]
    else:
        parts = Parallel(n_jobs=n_jobs)(delayed(one_paper)(s, shape_assumed, method, simulations=simulations, keep=keep)
                                        for s in seqs)  # fmt: skip
    return pd.DataFrame([dict(r, paper=i) for i, rows in enumerate(parts) for r in rows])


def coverage(rows: pd.DataFrame) -> pd.DataFrame:
    """Per method, assumption, held-out item and band: the share of papers whose own printed value
    the 95% band covers, its Monte Carlo SE (binomial over the papers), and the mean band width
    (percentage points)."""
    import pandas as pd

    out = []
    for (method, assumed, item), g in rows.groupby(["method", "assumed", "item"], sort=False):
        for band in ("conditional", "conditional_unadjusted", "independent"):
            c = g[f"{band}_covers"].to_numpy(float)
            out.append({"method": method, "assumed": assumed, "shape_assumed": g["shape_assumed"].iloc[0], "item": item,
                        "band": band, "papers": len(g), "coverage": round(float(c.mean()), 3),
                        "mc_se": round(float(np.sqrt(c.mean() * (1 - c.mean()) / len(c))), 3),
                        "mean_width": round(float((g[f"{band}_hi"] - g[f"{band}_lo"]).mean()), 2)})  # fmt: skip
    return pd.DataFrame(out)


def agreement(rows: pd.DataFrame, reference_method: str = "rejection, shared table") -> pd.DataFrame:
    """Each other method's conditional band against ``reference_method``'s on the same papers (the
    same seeds: the same printed numbers): mean absolute difference of the band ends, both mean
    widths, both coverages, and the papers on which exactly one of the two covers the printed value."""
    import pandas as pd

    keys = ["assumed", "paper", "item"]
    base = rows[rows["method"] == reference_method].set_index(keys)
    out = []
    for (method, assumed, item), g in rows[rows["method"] != reference_method].groupby(["method", "assumed", "item"], sort=False):
        b = base.loc[[(assumed, p, item) for p in g["paper"]]]
        lo, hi = g["conditional_lo"].to_numpy(), g["conditional_hi"].to_numpy()
        blo, bhi = b["conditional_lo"].to_numpy(), b["conditional_hi"].to_numpy()
        covers, bcovers = g["conditional_covers"].to_numpy(bool), b["conditional_covers"].to_numpy(bool)
        out.append({"method": method, "against": reference_method, "assumed": assumed, "item": item, "papers": len(g),
                    "mean_abs_diff_lo": round(float(np.mean(np.abs(lo - blo))), 2),
                    "mean_abs_diff_hi": round(float(np.mean(np.abs(hi - bhi))), 2),
                    "mean_width": round(float(np.mean(hi - lo)), 2), "mean_width_against": round(float(np.mean(bhi - blo)), 2),
                    "coverage": round(float(covers.mean()), 3), "coverage_against": round(float(bcovers.mean()), 3),
                    "papers_covered_by_one_only": int(np.sum(covers != bcovers))})  # fmt: skip
    return pd.DataFrame(out)


COVERAGE_TABLE = "conditional_coverage.csv"
AGREEMENT_TABLE = "conditional_agreement.csv"


def main(argv: list[str] | None = None) -> int:
    """``make validate-conditional``: the known-truth study of the conditional bands; writes
    ``docs/figures/conditional_coverage.csv`` and ``conditional_agreement.csv``, and every paper's
    row to ``reports/validation/conditional_known_truth.csv.gz``."""
    import argparse
    import time

    import pandas as pd

    from . import paths

    ap = argparse.ArgumentParser(prog="python -m helpers.known_truth", description=main.__doc__)
    ap.add_argument("--papers", type=int, default=1000, help="papers per assumption, shared reference table")
    ap.add_argument("--own", type=int, default=100, help="papers with a reference table of their own (true shape)")
    ap.add_argument("--pyabc", type=int, default=250, help="papers through pyabc's ABC-SMC, per assumed shape (0.8, 1)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", action="store_true",
                    help="keep the committed tables' rows of the parts given 0 papers (to run one part again)")
    args = ap.parse_args(argv)
    parts, seconds = [], {}
    runs = [(f"shared table, {label}", {"papers": args.papers, "shape_assumed": shape}) for label, shape in ASSUMPTIONS.items()]
    runs += [("own tables, true shape", {"papers": args.own, "shared": False})]
    runs += [(f"pyabc, {label}", {"papers": args.pyabc, "shape_assumed": ASSUMPTIONS[label], "method": "pyabc"})
             for label in list(ASSUMPTIONS)[:2]]  # fmt: skip
    for name, kw in runs:
        if kw["papers"] <= 0:
            continue
        t0 = time.perf_counter()
        parts.append(study(n_jobs=args.jobs, **kw))
        seconds[name] = time.perf_counter() - t0
        print(f"{name}: {kw['papers']} papers in {seconds[name]:.0f} s", flush=True)
    rows = pd.concat(parts, ignore_index=True)
    out = paths.DOCS / "figures"
    out.mkdir(parents=True, exist_ok=True)
    for name, table in ((COVERAGE_TABLE, coverage(rows)), (AGREEMENT_TABLE, agreement(rows))):
        if args.keep and (out / name).exists():  # the parts not run this time: their committed rows
            old = pd.read_csv(out / name)
            ran = set(zip(table["method"], table["assumed"], strict=True))
            kept = old[[pair not in ran for pair in zip(old["method"], old["assumed"], strict=True)]]
            order = {m: i for i, m in enumerate(dict.fromkeys([*old["method"], *table["method"]]))}
            table = pd.concat([kept, table], ignore_index=True).sort_values("method", key=lambda m: m.map(order), kind="stable")
        table.to_csv(out / name, index=False)
    detail = paths.reports_dir() / "validation"
    detail.mkdir(parents=True, exist_ok=True)
    rows.to_csv(detail / "conditional_known_truth.csv.gz", index=False, float_format="%.6g")
    print(f"-> {out / COVERAGE_TABLE}, {out / AGREEMENT_TABLE}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
