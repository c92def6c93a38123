"""Which printed numbers a calibration is fitted to: one split mimicking the four papers, and random ones.

Only the numbers a calibration can be fitted to are split (``candidates``): events, Kaplan-Meier
medians (where reached) and landmarks, univariable and multivariable HRs. Counts, percentages and
covariate medians of Table 1 are always inputs, the follow-up always sets the censoring
(assumptions derived from it), and P values are never fitted (``helpers.spec.plan.TARGET_KINDS``).

- ``mimic``: as the four papers do — the medians (a curve whose median is not reached stands in
  with its last landmark) and the univariable HRs are fitted; landmarks, events, P values and the
  multivariable HRs are held out;
- ``random``: each candidate a target with probability 1/2, redrawn until the model is identified
  (``identified``): at least one curve summary, and every model term with an HR target of its own
  (the arm also counts as identified by a summary of each arm's curve).

The Weibull shape is fitted when the targets can fix it (``shape_free``): at least two curve
summaries beyond the one the baseline median takes and the effects of the compared variable that
no HR target fixes; otherwise it is the assumed exponential.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .datasets import Dataset
from .paper import LOG_HR_BOUND, curve_levels, entries, free_names, slug, terms, truth

CURVE_KINDS = ("count", "median", "landmark_survival")
MAX_DRAWS = 1000  # redraws of a random split before giving up (none needed more than a few)


@dataclass(frozen=True)
class Split:
    name: str  # "mimic", "random-1", ...
    targets: tuple[str, ...]
    shape_free: bool
    starts: dict[str, float]  # the optimiser's starts, from the targets (``starts``)


def candidates(ds: Dataset) -> list[str]:
    """The printed numbers a calibration may be fitted to (a median printed as not reached cannot)."""
    tr = truth(ds.name).set_index("item")["truth"]
    return [e.ref for e in entries(ds)
            if (e.claim_id.endswith("-03") and e.quantity in CURVE_KINDS) or e.quantity == "HR"
            if math.isfinite(tr[e.item])]  # fmt: skip


def _curve(ref: str) -> str | None:
    """The curve (level name) a curve summary belongs to, else None."""
    item = ref.split("/")[1]
    for prefix in ("events_", "median_"):
        if item.startswith(prefix):
            return item.removeprefix(prefix)
    return item.split("_", 1)[1] if item[:1] == "s" and item[1:2].isdigit() else None


def _term_targets(ds: Dataset, targets: tuple[str, ...]) -> set[str]:
    """Model terms that have an HR target (univariable or multivariable)."""
    items = {t.split("/")[1] for t in targets}
    return {term for _, term, _ in terms(ds) if {f"uni_{slug(term)}", f"multi_{slug(term)}"} & items}


def identified(ds: Dataset, targets: tuple[str, ...]) -> bool:
    curves = {_curve(t) for t in targets} - {None}
    if not curves:
        return False
    missing = {term for _, term, _ in terms(ds)} - _term_targets(ds, targets)
    arms_seen = ds.by == "group" and set(ds.groups) <= curves
    return all(term.startswith("group:") and arms_seen for term in missing)


def shape_free(ds: Dataset, targets: tuple[str, ...]) -> bool:
    summaries = sum(_curve(t) is not None for t in targets)
    by_terms = {term for var, term, _ in terms(ds) if var == ds.by}
    unfixed = len(by_terms - _term_targets(ds, targets))
    return summaries >= 2 + unfixed


def starts(ds: Dataset, targets: tuple[str, ...]) -> dict[str, float]:
    """Where the fit starts, from the targets only (a held-out number never steers it): each log HR
    at the log of its own HR target (univariable first), the baseline median at ``start_median``."""
    tr = truth(ds.name).set_index("item")["truth"]
    items = {t.split("/")[1] for t in targets}
    out = {"baseline_median": start_median(ds, targets)}
    for _, term, _ in terms(ds):
        hit = [i for i in (f"uni_{slug(term)}", f"multi_{slug(term)}") if i in items]
        if hit:
            bound = LOG_HR_BOUND - 0.1  # strictly inside the bounds
            out[free_names(ds)[term]] = float(np.clip(round(math.log(tr[hit[0]]), 3), -bound, bound))
    return out


def start_median(ds: Dataset, targets: tuple[str, ...]) -> float:
    """A start for the baseline median from the first median or landmark target (exponential:
    t ln 2 / -ln S(t)), else the printed follow-up."""
    tr = truth(ds.name).set_index("item")
    for ref in targets:
        item = ref.split("/")[1]
        if item.startswith("median_"):
            return float(round(tr.loc[item, "truth"], 1))
        if item[:1] == "s" and item[1:2].isdigit():
            time, s = float(item[1:].split("_")[0]), tr.loc[item, "truth"] / 100
            return float(round(time * math.log(2) / -math.log(min(max(s, 0.01), 0.99)), 1))
    return float(round(tr.loc["followup", "truth"], 1))


def make(ds: Dataset, name: str, targets: list[str]) -> Split:
    order = {ref: i for i, ref in enumerate(candidates(ds))}
    t = tuple(sorted(set(targets), key=order.__getitem__))
    return Split(name, t, shape_free(ds, t), starts(ds, t))


def mimic(ds: Dataset) -> Split:
    """Medians (or a not-reached curve's last landmark) and univariable HRs fitted."""
    tr = truth(ds.name).set_index("item")["truth"]
    printed = {e.item for e in entries(ds)}
    targets = []
    for name, _ in curve_levels(ds):
        if math.isfinite(tr[f"median_{name}"]):
            targets.append(f"{ds.prefix}-03/median_{name}")
        else:
            last = [f"s{t:g}_{name}" for t in ds.landmarks if f"s{t:g}_{name}" in printed][-1]
            targets.append(f"{ds.prefix}-03/{last}")
    targets += [e.ref for e in entries(ds) if e.item.startswith("uni_")]
    return make(ds, "mimic", targets)


def random(ds: Dataset, index: int, seed: int) -> Split:
    """Random split number ``index`` (each candidate a target with probability 1/2, redrawn until
    identified); the same ``seed`` and ``index`` give the same split."""
    pool = candidates(ds)
    rng = np.random.default_rng([seed, index])
    for _ in range(MAX_DRAWS):
        chosen = tuple(r for r, pick in zip(pool, rng.random(len(pool)) < 0.5, strict=True) if pick)
        if identified(ds, chosen):
            return make(ds, f"random-{index}", list(chosen))
    raise RuntimeError(f"{ds.name}: no identified random split in {MAX_DRAWS} draws")


def splits(ds: Dataset, n_random: int, seed: int) -> list[Split]:
    return [mimic(ds), *(random(ds, i, seed) for i in range(1, n_random + 1))]
