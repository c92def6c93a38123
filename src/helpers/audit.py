"""The rounding-aware audit: do a paper's printed numbers agree with each other?

A printed number stands for every value that rounds to it at its printed precision ("38.9"
is any value in [38.85, 38.95]; a count such as "72" is exactly 72). A relation between
printed numbers is **inconsistent** only when no values inside those intervals satisfy it,
so that nothing rounding can explain is ever flagged. It is **unverifiable** when a needed
number is missing, not reached ("NR") or malformed, and **consistent** otherwise.

Every check is a small function of printed tokens that returns a ``Verdict`` (verdict and a
detail that shows the recomputation in numbers); ``audit_paper`` applies each check to every
ledger item or relation it fits and returns one row per (claim_id, item, check).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal, NamedTuple

import pandas as pd
from scipy.stats import norm

from . import ledger, tokens

VerdictKind = Literal["consistent", "inconsistent", "unverifiable"]
VERDICTS = ("consistent", "inconsistent", "unverifiable")

# What each check asks, in one line (the notebook explains each one in plain words).
CHECKS = {
    "token_parses": "every printed token is a number, a bound or NR",
    "grim": "a percentage matches count / denominator (or some integer count of the denominator)",
    "implied_denominator": "the denominators a percentage and its count allow",
    "count_within_n": "a count does not exceed its printed denominator",
    "ci_contains_estimate": "CI bounds ordered and the estimate inside them",
    "ci_log_symmetry": "a ratio's 95% CI is symmetric around it on the log scale",
    "p_from_ci": "the P value implied by a ratio's 95% CI matches the printed P",
    "ci_from_p": "the CI width implied by the printed P matches the printed CI",
    "sum": "parts add up to their total",
    "subset": "a part does not exceed its set",
    "landmark_median": "survival at a landmark is at most 50% exactly when the landmark is past the median",
    "pooled_median": "a pooled median lies between the medians of the groups it pools",
    "same_quantity": "one quantity printed in two places gives the same value",
    "repeated_estimate": "no two different quantities print the same ratio and CI",
}

COLUMNS = ["paper", "claim_id", "item", "check", "verdict", "detail", "where"]

Z95 = norm.ppf(0.975)  # the 95% Wald CI is estimate ± 1.959964 SE on the log scale
# Decimal boundaries such as 2.345 are not exact in binary floating point; widening each
# interval by this relative amount keeps a true value that sits on the boundary inside it.
FLOAT_SLACK = 1e-9
# A repeated ratio and CI counts as a finding only when the printed step of the estimate is
# at most a tenth of its 2-SE span on the log scale: then a chance match of the estimate alone
# has probability about 1/10 or less even for closely correlated end points, and of both
# bounds as well far less. A coarser print (e.g. 1.01 per unit of ferritin) cannot tell.
REPEAT_RESOLUTION = 10
COUNT_QUANTITIES = {"count", "n"}
SURVIVAL_PERCENT = {"landmark_survival", "landmark_event"}


class Verdict(NamedTuple):
    verdict: VerdictKind
    detail: str


class Unverifiable(Exception):
    """A needed number is missing, not reached or malformed; the message says which."""


# ---------------------------------------------------------------- intervals of printed tokens


def fmt(x: float, digits: int = 4) -> str:
    """A number for a detail string: 4 significant digits, inf as 'inf'."""
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def fmt_iv(iv: tuple[float, float]) -> str:
    return f"[{fmt(iv[0])}, {fmt(iv[1])}]"


def interval(printed: str | None, *, exact: bool = False, name: str = "value") -> tuple[float, float]:
    """The values a printed token stands for; ``exact`` for counts printed as integers.

    Raises ``Unverifiable`` when nothing numeric was printed ("NR", a typo, or missing).
    """
    tok = tokens.parse(printed)
    if tok is None:
        raise Unverifiable(f"{name} not printed")
    if tok.status == "not_reached":
        raise Unverifiable(f"{name} printed as {printed!r} (not reached)")
    if tok.status == "malformed":
        raise Unverifiable(f"{name} printed as {printed!r}, which is not a number")
    if exact and tok.status == "number" and tok.decimals == 0:
        return (tok.value, tok.value)  # a count is an integer: printed exactly
    lo, hi = tok.interval()
    return (lo - FLOAT_SLACK * max(1.0, abs(lo)), hi + FLOAT_SLACK * max(1.0, abs(hi)))


def _upper_or_inf(printed: str | None, name: str) -> tuple[float, float]:
    """An upper CI bound or median where "NR" means 'beyond follow-up' (unbounded above)."""
    tok = tokens.parse(printed)
    if tok is not None and tok.status == "not_reached":
        return (0.0, math.inf)
    return interval(printed, name=name)


def _count(printed: str | None, name: str) -> int:
    tok = tokens.parse(printed)
    if tok is None or tok.status != "number" or tok.decimals != 0:
        raise Unverifiable(f"{name} {'not printed' if tok is None else repr(printed)} is not a whole count")
    return int(tok.value)


def _log(x: float) -> float:
    return math.log(max(x, 1e-300))


def _guard(check):
    """Turn ``Unverifiable`` raised inside a check into an 'unverifiable' verdict."""

    def wrapped(*args, **kwargs) -> Verdict:
        try:
            return check(*args, **kwargs)
        except Unverifiable as exc:
            return Verdict("unverifiable", str(exc))

    wrapped.__name__, wrapped.__doc__ = check.__name__, check.__doc__
    return wrapped


def _truncation_note(value: float, printed: str) -> str:
    """Say so when truncating instead of rounding would have printed the token."""
    tok = tokens.parse(printed)
    if tok is None or tok.status != "number":
        return ""
    step = 10.0 ** -(tok.decimals or 0)
    if tok.value - FLOAT_SLACK <= value < tok.value + step:
        return f"; truncating {fmt(value)} (instead of rounding) would print {printed}"
    return ""


# ---------------------------------------------------------------- percentages


@_guard
def check_token(fields: dict[str, str | None]) -> Verdict:
    """Every printed field parses; a malformed token is reported, never repaired."""
    bad = {k: v for k, v in fields.items() if (t := tokens.parse(v)) is not None and t.status == "malformed"}
    if bad:
        shown = ", ".join(f"{k} printed as {v!r}" for k, v in bad.items())
        return Verdict("inconsistent", f"{shown}: not a number (kept as printed, not repaired)")
    printed = [v for v in fields.values() if v is not None]
    return Verdict("consistent", f"{len(printed)} token(s) parse: {', '.join(printed)}")


@_guard
def check_grim(percent: str, n: str, count: str | None = None) -> Verdict:
    """GRIM for proportions: count/n (or some integer count out of n) rounds to the percent."""
    lo, hi = interval(percent, name="percent")
    n_ = _count(n, "denominator")
    if n_ <= 0:
        raise Unverifiable(f"denominator {n!r} is not positive")
    if count is not None:
        k = _count(count, "count")
        pct = 100.0 * k / n_
        ok = lo <= pct <= hi
        detail = f"{k}/{n_} = {pct:.3f}%; printed {percent}% stands for {fmt_iv((lo, hi))}"
        if not ok:
            fits = [j for j in range(n_ + 1) if lo <= 100.0 * j / n_ <= hi]
            near = _implied_n(k, lo, hi)
            detail += (f"; counts of {n_} that fit: {fits or 'none'}; denominators for {k} that fit: "
                       f"{near or 'none'}{_truncation_note(pct, percent)}")  # fmt: skip
        return Verdict("consistent" if ok else "inconsistent", detail)
    fits = [j for j in range(n_ + 1) if lo <= 100.0 * j / n_ <= hi]
    if fits:
        return Verdict("consistent", f"{percent}% of {n_}: count {', '.join(map(str, fits))} fits "
                                     f"({', '.join(f'{100 * j / n_:.2f}%' for j in fits)})")  # fmt: skip
    below = math.floor(lo * n_ / 100)
    return Verdict("inconsistent", f"no whole count of {n_} rounds to {percent}% {fmt_iv((lo, hi))}: "
                                   f"{below}/{n_} = {100 * below / n_:.2f}%, "
                                   f"{below + 1}/{n_} = {100 * (below + 1) / n_:.2f}%")  # fmt: skip


def _implied_n(count: int, lo: float, hi: float) -> list[int]:
    """Whole denominators n >= count with 100*count/n inside [lo, hi]."""
    if hi <= 0:
        return []
    n_min = max(count, 1, math.ceil(100.0 * count / hi))
    n_max = math.floor(100.0 * count / lo) if lo > 0 else n_min + 10_000
    return [n for n in range(n_min, n_max + 1) if n > 0 and lo <= 100.0 * count / n <= hi]


def implied_denominators(count: int, percent: str) -> list[int]:
    """Every whole denominator n for which count/n rounds to the printed percentage."""
    lo, hi = interval(percent, name="percent")
    return _implied_n(count, lo, hi)


@_guard
def check_implied_denominator(percent: str, count: str, n: str | None = None) -> Verdict:
    """List the denominators that a percentage and its count allow (e.g. 72 = 38.9% -> 185)."""
    lo, hi = interval(percent, name="percent")
    k = _count(count, "count")
    if k == 0:
        ok = lo <= 0.0
        return Verdict("consistent" if ok else "inconsistent", f"0 of any denominator is 0% vs {percent}%")
    fits = _implied_n(k, lo, hi)
    if not fits:
        return Verdict("inconsistent", f"no denominator n >= {k} gives {k}/n in {fmt_iv((lo, hi))}%")
    shown = f"{fits[0]}" if len(fits) == 1 else f"{fits[0]}-{fits[-1]} ({len(fits)} values)"
    detail = f"{k} = {percent}% implies n = {shown}"
    if n is not None:
        detail += f"; printed n = {n} {'is' if tokens.value_of(n) in fits else 'is not'} among them"
    return Verdict("consistent", detail)


@_guard
def check_count_within_n(count: str, n: str) -> Verdict:
    k, n_ = _count(count, "count"), _count(n, "denominator")
    ok = k <= n_
    return Verdict("consistent" if ok else "inconsistent", f"{k} {'<=' if ok else '>'} {n_}")


# ---------------------------------------------------------------- estimates, CIs and P values


def _ci_intervals(value: str, lo: str, hi: str):
    return (interval(value, name="estimate"), interval(lo, name="lower bound"),
            _upper_or_inf(hi, name="upper bound"))  # fmt: skip


@_guard
def check_ci_contains(value: str, lo: str, hi: str) -> Verdict:
    """Bounds ordered and the estimate inside: some values in the intervals satisfy lo <= est <= hi."""
    e, l_, h = _ci_intervals(value, lo, hi)
    problems = []
    if l_[0] > h[1]:
        problems.append(f"lower bound {lo} exceeds upper bound {hi}")
    if e[1] < l_[0]:
        problems.append(f"estimate {value} {fmt_iv(e)} is below the lower bound {lo} {fmt_iv(l_)}")
    if e[0] > h[1]:
        problems.append(f"estimate {value} {fmt_iv(e)} is above the upper bound {hi} {fmt_iv(h)}")
    if problems:
        return Verdict("inconsistent", "; ".join(problems))
    return Verdict("consistent", f"{lo} <= {value} <= {hi} within rounding")


@_guard
def check_log_symmetry(value: str, lo: str, hi: str) -> Verdict:
    """A Wald CI of a ratio is symmetric on the log scale: est^2 = lo*hi for some rounded values."""
    e, l_, h = _ci_intervals(value, lo, hi)
    if math.isinf(h[1]):
        raise Unverifiable(f"upper bound {hi!r} not reached")
    sq = (e[0] ** 2, e[1] ** 2)
    prod = (l_[0] * h[0], l_[1] * h[1])
    centre = math.sqrt(max(tokens.value_of(lo) * tokens.value_of(hi), 0.0))
    detail = (f"geometric midpoint sqrt({lo} x {hi}) = {fmt(centre)}, between {fmt(math.sqrt(max(prod[0], 0.0)))} "
              f"and {fmt(math.sqrt(max(prod[1], 0.0)))} within rounding; estimate {value} {fmt_iv(e)}")  # fmt: skip
    ok = sq[0] <= prod[1] and prod[0] <= sq[1]
    return Verdict("consistent" if ok else "inconsistent", detail)


def _z_range(e, l_, h) -> tuple[float, float]:
    """Range of |log est| / SE over the box, SE = (log hi - log lo) / (2 x 1.96)."""
    a_lo = 0.0 if e[0] <= 1.0 <= e[1] else min(abs(_log(e[0])), abs(_log(e[1])))
    a_hi = max(abs(_log(e[0])), abs(_log(e[1])))
    se_lo = (_log(h[0]) - _log(l_[1])) / (2 * Z95)
    se_hi = (_log(h[1]) - _log(l_[0])) / (2 * Z95)
    if se_hi <= 0:
        raise Unverifiable("the CI has no positive width within rounding")
    z_hi = math.inf if se_lo <= 0 else a_hi / se_lo
    return a_lo / se_hi, z_hi


def _point_z(value: str, lo: str, hi: str) -> str:
    """The recomputation at the printed values themselves (shown, not judged)."""
    est, low, high = (tokens.value_of(x) for x in (value, lo, hi))
    if min(est, low, high) <= 0 or high <= low:
        return ""
    z = abs(math.log(est)) / ((math.log(high) - math.log(low)) / (2 * Z95))
    return f"SE = (ln {hi} - ln {lo})/3.92, z = ln {value}/SE = {z:.2f}, P = {fmt(_p_of_z(z), 2)}; "


def _p_of_z(z: float) -> float:
    return 2.0 * norm.sf(z)


def _z_of_p(p: float) -> float:
    return math.inf if p <= 0 else norm.isf(min(p, 1.0) / 2.0)


def _ratio_box(value, lo, hi, p):
    e, l_, h = _ci_intervals(value, lo, hi)
    if math.isinf(h[1]):
        raise Unverifiable(f"upper bound {hi!r} not reached")
    p_iv = interval(p, name="P")
    return e, l_, h, (max(p_iv[0], 0.0), min(p_iv[1], 1.0))


@_guard
def check_p_from_ci(value: str, lo: str, hi: str, p: str) -> Verdict:
    """Altman & Bland (BMJ 2011;343:d2090): P from the CI on the log scale, over all rounded values."""
    e, l_, h, p_iv = _ratio_box(value, lo, hi, p)
    z_lo, z_hi = _z_range(e, l_, h)
    p_range = (_p_of_z(z_hi), _p_of_z(z_lo))
    ok = p_range[0] <= p_iv[1] and p_iv[0] <= p_range[1]
    detail = (f"{_point_z(value, lo, hi)}over the rounding intervals P in {fmt_iv(p_range)} "
              f"vs printed P = {p} {fmt_iv(p_iv)}")  # fmt: skip
    return Verdict("consistent" if ok else "inconsistent", detail)


@_guard
def check_ci_from_p(value: str, lo: str, hi: str, p: str) -> Verdict:
    """The other direction: the CI width (hi/lo) the printed P and estimate imply."""
    e, l_, h, p_iv = _ratio_box(value, lo, hi, p)
    a_lo = 0.0 if e[0] <= 1.0 <= e[1] else min(abs(_log(e[0])), abs(_log(e[1])))
    a_hi = max(abs(_log(e[0])), abs(_log(e[1])))
    z_min, z_max = _z_of_p(p_iv[1]), _z_of_p(p_iv[0])
    implied = (0.0 if math.isinf(z_max) else 2 * Z95 * a_lo / z_max,
               math.inf if z_min <= 0 else 2 * Z95 * a_hi / z_min)  # fmt: skip
    printed = (_log(h[0]) - _log(l_[1]), _log(h[1]) - _log(l_[0]))
    ok = implied[0] <= printed[1] and printed[0] <= implied[1]
    ratio = tokens.value_of(hi) / tokens.value_of(lo) if tokens.value_of(lo) > 0 else math.inf
    detail = (f"P = {p} and estimate {value} imply hi/lo in [{fmt(math.exp(implied[0]))}, "
              f"{fmt(math.exp(min(implied[1], 700)))}]; printed {hi}/{lo} = {fmt(ratio)} "
              f"({fmt(math.exp(printed[0]))} to {fmt(math.exp(printed[1]))} within rounding)")  # fmt: skip
    return Verdict("consistent" if ok else "inconsistent", detail)


# ---------------------------------------------------------------- relations between items


@_guard
def check_sum(parts: Sequence[tuple[str, bool]], total: tuple[str, bool]) -> Verdict:
    """Parts add to the total for some values in their intervals; each as (printed, exact)."""
    ivs = [interval(v, exact=x, name="part") for v, x in parts]
    t = interval(total[0], exact=total[1], name="total")
    s = (sum(i[0] for i in ivs), sum(i[1] for i in ivs))
    ok = s[0] <= t[1] and t[0] <= s[1]
    shown = " + ".join(v for v, _ in parts)
    span = fmt(s[0]) if s[0] == s[1] else fmt_iv(s)
    return Verdict("consistent" if ok else "inconsistent", f"{shown} = {span} vs total {total[0]}")


@_guard
def check_subset(part: tuple[str, bool], whole: tuple[str, bool]) -> Verdict:
    p = interval(part[0], exact=part[1], name="part")
    w = interval(whole[0], exact=whole[1], name="set")
    ok = p[0] <= w[1]
    return Verdict("consistent" if ok else "inconsistent", f"{part[0]} {'<=' if ok else '>'} {whole[0]}")


@_guard
def check_landmark_median(landmark: str, time: str, median: str, *, event: bool = False) -> Verdict:
    """KM: S(t) <= 50% exactly when t >= median. ``event``: the landmark is % with the event."""
    s = interval(landmark, name="landmark")
    if event:
        s = (100.0 - s[1], 100.0 - s[0])
    t = tokens.value_of(time)
    if t is None:
        raise Unverifiable("landmark time not printed")
    med = tokens.parse(median)
    # a median not reached means the curve stays above 50% over follow-up, the landmark included
    m = (math.inf, math.inf) if med is not None and med.status == "not_reached" else interval(median, name="median")
    past = m[0] <= t  # some median value at or before t: S(t) may be <= 50
    before = m[1] > t  # some median value after t: S(t) may be > 50
    ok = (past and s[0] <= 50.0) or (before and s[1] > 50.0)
    surv = f"{100 - tokens.value_of(landmark):.4g}% event-free" if event else f"{landmark}% event-free"
    detail = f"{surv} at time {time} ({fmt_iv(s)}) with median {median} {fmt_iv(m)}"
    if not ok:
        detail += ": " + ("below 50% before the median" if s[1] <= 50.0 else "above 50% past the median")
    return Verdict("consistent" if ok else "inconsistent", detail)


@_guard
def check_pooled_median(pooled: str, groups: Sequence[str]) -> Verdict:
    """A pooled median lies between the smallest and largest group medians (within rounding)."""
    p = _upper_or_inf(pooled, name="pooled median")
    ivs = [_upper_or_inf(g, name="group median") for g in groups]
    low = min(i[0] for i in ivs)
    high = max(i[1] for i in ivs)
    ok = p[0] <= high and low <= p[1]
    detail = f"pooled {pooled} vs group medians {', '.join(groups)}: allowed {fmt_iv((low, high))}"
    return Verdict("consistent" if ok else "inconsistent", detail)


def _as_percent(it: ledger.Item) -> tuple[float, float]:
    """A count with its denominator, expressed as a percent (for count-vs-percent comparisons)."""
    k, n_ = _count(it.value, "count"), _count(it.n, "denominator")
    return (100.0 * k / n_, 100.0 * k / n_)


@_guard
def check_same(a: ledger.Item, b: ledger.Item, ref_b: str) -> Verdict:
    """One quantity printed twice: each printed field's intervals overlap."""
    if (a.quantity == "percent") != (b.quantity == "percent"):
        pct, cnt = (a, b) if a.quantity == "percent" else (b, a)
        x, iv = _as_percent(cnt), interval(pct.value, name="percent")
        ok = iv[0] <= x[0] <= iv[1]
        return Verdict("consistent" if ok else "inconsistent",
                       f"{cnt.value}/{cnt.n} = {x[0]:.2f}% vs printed {pct.value}% {fmt_iv(iv)}")  # fmt: skip
    shown, bad, compared = [], [], 0
    for field in ("value", "lo", "hi", "p"):
        va, vb = getattr(a, field), getattr(b, field)
        if va is None or vb is None:
            continue
        ia = interval(va, exact=a.quantity in COUNT_QUANTITIES, name=f"{field} here")
        ib = interval(vb, exact=b.quantity in COUNT_QUANTITIES, name=f"{field} of {ref_b}")
        compared += 1
        shown.append(f"{field} {va} vs {vb}")
        if not (ia[0] <= ib[1] and ib[0] <= ia[1]):
            bad.append(f"{field} {va} {fmt_iv(ia)} vs {vb} {fmt_iv(ib)}")
    if not compared:
        raise Unverifiable(f"no field printed in both places (vs {ref_b})")
    if bad:
        note = _truncation_note(_finer_value(a, b), _coarser(a, b))
        return Verdict("inconsistent", f"vs {ref_b}: " + "; ".join(bad) + note)
    return Verdict("consistent", f"vs {ref_b}: " + ", ".join(shown))


def _finer_value(a: ledger.Item, b: ledger.Item) -> float:
    ta, tb = tokens.parse(a.value), tokens.parse(b.value)
    if not (ta and tb and ta.is_number and tb.is_number):
        return math.nan
    return ta.value if (ta.decimals or 0) > (tb.decimals or 0) else tb.value


def _coarser(a: ledger.Item, b: ledger.Item) -> str:
    ta, tb = tokens.parse(a.value), tokens.parse(b.value)
    if not (ta and tb and ta.is_number and tb.is_number) or ta.decimals == tb.decimals:
        return ""
    return a.value if (ta.decimals or 0) < (tb.decimals or 0) else b.value


def _digits(printed: str | None) -> str:
    """A token's digits alone, to match a malformed token ("4.0.6") with its look-alike ("4.06")."""
    return "".join(ch for ch in (printed or "") if ch.isdigit())


def same_print(x: str | None, y: str | None) -> bool:
    if x is None or y is None:
        return False
    if x.strip() == y.strip():
        return True
    tx, ty = tokens.parse(x), tokens.parse(y)
    either_malformed = "malformed" in (tx.status, ty.status)
    return either_malformed and _digits(x) == _digits(y)


def repeated_estimate(items: Sequence[tuple[str, ledger.Item]], linked: set[frozenset[str]]) -> dict[str, Verdict]:
    """Scan ratio items with a CI for an estimate and CI printed identically for another quantity."""
    out: dict[str, Verdict] = {}
    for ref, it in items:
        twins = [r for r, other in items if r != ref and all(
            same_print(getattr(it, f), getattr(other, f)) for f in ("value", "lo", "hi"))]  # fmt: skip
        if not twins:
            out[ref] = Verdict("consistent", f"{it.value} ({it.lo}-{it.hi}) printed for this quantity only")
            continue
        declared = [r for r in twins if frozenset((ref, r)) in linked]
        others = [r for r in twins if r not in declared]
        if not others:
            out[ref] = Verdict("consistent", f"{it.value} ({it.lo}-{it.hi}) also at {', '.join(declared)}, "
                                             "declared the same quantity in the ledger")  # fmt: skip
            continue
        try:
            e, l_, h = _ci_intervals(it.value, it.lo, it.hi)
        except Unverifiable as exc:  # a malformed bound: judge precision on the parsed fields
            e, l_ = interval(it.value), interval(it.lo)
            h = (math.nan, math.nan)
            note = f" ({exc})"
        else:
            note = ""
        step = _log(e[1]) - _log(e[0])
        top = h[1] if not math.isnan(h[1]) else l_[1] * (e[1] / l_[0]) ** 2  # log-symmetric stand-in
        span = (_log(top) - _log(l_[0])) / 2  # 2 SE on the log scale (95% CI half-width ~ 1.96 SE)
        text = f"{it.value} ({it.lo}-{it.hi}) also printed for {', '.join(others)}{note}"
        if step * REPEAT_RESOLUTION <= span:
            out[ref] = Verdict("inconsistent", f"{text}; the printed step (log {fmt(step, 2)}) is under a tenth "
                                               f"of 2 SE (log {fmt(span, 2)}), so a chance match is improbable")  # fmt: skip
        else:
            out[ref] = Verdict("unverifiable", f"{text}; printed too coarsely to tell (log step {fmt(step, 2)}"
                                               f" vs 2 SE {fmt(span, 2)})")  # fmt: skip
    return out


# ---------------------------------------------------------------- applying the checks to a ledger


def _relation_rows(led: ledger.PaperLedger, items: dict[str, ledger.Item]) -> Iterable[tuple[str, str, Verdict]]:
    def exact(ref):
        return (items[ref].value, items[ref].quantity in COUNT_QUANTITIES)

    total_pct = ("100", True)  # parts given as percentages of one whole add to 100%
    for rel in led.relations:
        if rel.kind == "sum":
            whole = exact(rel.total) if rel.total else total_pct
            key = rel.total or rel.items[0]
            yield key, "sum", check_sum([exact(r) for r in rel.items], whole)
        elif rel.kind == "subset":
            if rel.total is None:
                yield rel.items[0], "subset", Verdict("unverifiable", "subset relation without a total")
                continue
            for ref in rel.items:
                v = check_subset(exact(ref), exact(rel.total))
                yield ref, "subset", v._replace(detail=f"{v.detail} ({rel.total})")
        elif rel.kind == "pooled_median":
            pooled, *groups = rel.items
            yield pooled, "pooled_median", check_pooled_median(items[pooled].value, [items[g].value for g in groups])
        elif rel.kind == "landmark_median":
            mark, median = rel.items[:2]
            it = items[mark]
            v = check_landmark_median(it.value, it.time, items[median].value, event=it.quantity == "landmark_event")
            yield mark, "landmark_median", v._replace(detail=f"{v.detail} ({median})")


def _same_pairs(led: ledger.PaperLedger) -> list[tuple[str, str]]:
    """(item, first item) pairs declared the same quantity, by same_as or same_quantity."""
    pairs = [(f"{c.claim_id}/{i.item}", i.same_as) for c in led.claims for i in c.items if i.same_as]
    for rel in led.relations:
        if rel.kind == "same_quantity":
            pairs += [(ref, rel.items[0]) for ref in rel.items[1:]]
    seen, out = set(), []
    for a, b in pairs:
        if frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            out.append((a, b))
    return out


def _item_rows(ref: str, it: ledger.Item) -> Iterable[tuple[str, str, Verdict]]:
    fields = {f: getattr(it, f) for f in ("value", "lo", "hi", "p", "n", "count", "time")}
    if any(v is not None for v in fields.values()):
        yield ref, "token_parses", check_token(fields)
    if it.quantity == "percent":
        if it.n is not None:
            yield ref, "grim", check_grim(it.value, it.n, it.count)
        elif it.count is None:
            yield ref, "grim", Verdict("unverifiable", f"{it.value}%: neither count nor denominator printed")
        if it.count is not None:
            yield ref, "implied_denominator", check_implied_denominator(it.value, it.count, it.n)
    if it.quantity == "count" and it.n is not None:
        yield ref, "count_within_n", check_count_within_n(it.value, it.n)
    # a range (minimum-maximum) is not an interval around an estimate
    if it.quantity != "range" and None not in (it.value, it.lo, it.hi):
        yield ref, "ci_contains_estimate", check_ci_contains(it.value, it.lo, it.hi)
        if it.quantity in ("HR", "OR"):
            yield ref, "ci_log_symmetry", check_log_symmetry(it.value, it.lo, it.hi)
            if it.p is not None:
                yield ref, "p_from_ci", check_p_from_ci(it.value, it.lo, it.hi, it.p)
                yield ref, "ci_from_p", check_ci_from_p(it.value, it.lo, it.hi, it.p)


_RANK = {"inconsistent": 0, "unverifiable": 1, "consistent": 2}


def audit_paper(led: ledger.PaperLedger) -> pd.DataFrame:
    """Every check on every item or relation it fits: one row per (claim_id, item, check)."""
    items = {f"{c.claim_id}/{i.item}": i for c in led.claims for i in c.items}
    rows: list[tuple[str, str, Verdict]] = []
    for ref, it in items.items():
        rows += list(_item_rows(ref, it))
    rows += list(_relation_rows(led, items))
    pairs = _same_pairs(led)
    rows += [(a, "same_quantity", check_same(items[a], items[b], b)) for a, b in pairs]
    ratios = [(r, i) for r, i in items.items()
              if i.quantity in ledger.RATIO_QUANTITIES and None not in (i.value, i.lo, i.hi)]  # fmt: skip
    rows += [(r, "repeated_estimate", v) for r, v in repeated_estimate(ratios, {frozenset(p) for p in pairs}).items()]
    df = pd.DataFrame(
        [(led.paper, *ref.split("/"), check, v.verdict, v.detail, items[ref].where) for ref, check, v in rows],
        columns=COLUMNS,
    )
    return _merge_repeats(df, list(items))


def _merge_repeats(df: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """One row per (claim_id, item, check): several relations of one kind on an item are merged,
    keeping the worst verdict and every detail."""
    df = df.assign(_rank=df.verdict.map(_RANK))
    merged = (
        df.groupby(["paper", "claim_id", "item", "check"], sort=False)
        .agg(_rank=("_rank", "min"), detail=("detail", " | ".join), where=("where", "first"))
        .reset_index()
    )
    merged["verdict"] = merged["_rank"].map({v: k for k, v in _RANK.items()})
    position = {ref: k for k, ref in enumerate(order)}
    check_order = {c: k for k, c in enumerate(CHECKS)}
    merged = merged.assign(
        _item=(merged.claim_id + "/" + merged.item).map(position), _check=merged.check.map(check_order)
    ).sort_values(["_item", "_check"], kind="stable")
    return merged[COLUMNS].reset_index(drop=True)


def audit(papers: Sequence[str] = ledger.PAPERS) -> pd.DataFrame:
    """The audit of every paper's ledger, in the order of ``papers``."""
    return pd.concat([audit_paper(ledger.load_paper(p)) for p in papers], ignore_index=True)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Count of verdicts per paper and check (rows sorted, every verdict a column)."""
    table = (
        df.groupby(["paper", "check", "verdict"]).size().unstack("verdict", fill_value=0)
        .reindex(columns=list(VERDICTS), fill_value=0)
    )  # fmt: skip
    return table.astype(int).sort_index()


def findings(df: pd.DataFrame, paper: str | None = None, verdict: VerdictKind = "inconsistent") -> pd.DataFrame:
    """The rows of one verdict (inconsistent by default; optionally one paper), with their details."""
    hit = df[df.verdict == verdict]
    if paper is not None:
        hit = hit[hit.paper == paper]
    return hit[["claim_id", "item", "check", "detail"]].reset_index(drop=True)


def totals(df: pd.DataFrame, papers: Sequence[str] = ledger.PAPERS) -> pd.DataFrame:
    """Count of verdicts per paper, every paper listed (a paper with nothing to check shows zeros)."""
    table = df.groupby(["paper", "verdict"]).size().unstack("verdict", fill_value=0)
    table = table.reindex(index=list(papers), columns=list(VERDICTS), fill_value=0).astype(int)
    table.index.name = "paper"
    return table
