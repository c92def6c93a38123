"""The generative model of a study spec: one vectorised draw of a cohort.

For every patient, in this order (every random array has a fixed shape, so common random numbers
make a calibration objective a smooth function of the parameters):

1. **group** from the group sizes (times ``settings.n_multiplier``);
2. **covariates** from one Gaussian copula: latent normals Z with the declared correlations (pairs,
   or a factor's loadings: corr = l_i l_j); a binary covariate is 1 when Phi(Z) > 1 - prevalence,
   a categorical one takes the level whose cumulative shares bracket Phi(Z), a continuous one is
   mean + sd Z (normal) or median exp(sdlog Z) (lognormal); the margins are exactly the declared ones
   (per group where a parameter is given `by_group`: a Table 1 printed by arm);
3. **endpoints**, in the listed order, from the baseline patient (binary 0, reference level,
   continuous at its median) and the effects: a binary endpoint has logit P = logit(probability) +
   sum of log ORs (nested ``within`` a parent: 0 unless the parent is 1); a time endpoint has
   S(t | x) = S0(t) ** exp(sum of log HRs), proportional hazards even with a cure fraction (the cure
   share of a patient is cure ** exp(lp)), drawn by inverting S0; ``after`` adds it to an earlier
   endpoint's event time (OS = progression + post-progression survival, so PFS <= OS);
4. **censoring**: time from entry to the data cut-off, followup + accrual * U (uniform accrual),
   or an exponential dropout if earlier; every time endpoint of a patient is censored at the same time;
5. **missingness** (MCAR) of the covariates, after the endpoints were drawn from the true values.

A cohort is a dict of float arrays (n,): ``group`` (index), each covariate (NaN = missing; a
categorical one as its level index), each binary endpoint (0/1), ``<time endpoint>_time`` and
``<time endpoint>_event``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from ..settings import Settings
from .plan import field_kind, load
from .schema import (
    Assumed,
    BinaryCovariate,
    BinaryEndpoint,
    ByGroup,
    CategoricalCovariate,
    Cure,
    Exponential,
    Free,
    GroupShares,
    GroupValues,
    Piecewise,
    Ref,
    Spec,
    SpecError,
    Weibull,
)

LN2 = math.log(2.0)


def number(value: Any, settings: Settings, field: str) -> float:
    """A spec number's value: a literal, a printed number converted for its field, an assumed or a
    calibrated value (``settings``)."""
    kind = field_kind(field)
    if isinstance(value, float):
        return value
    if isinstance(value, Ref):
        rec = settings[value.ref]
        if kind == "probability":
            out = rec["value"] / rec["n"] if rec["quantity"] == "count" else rec["value"] / 100.0
        elif kind == "log_ratio":
            out = math.log(rec["value"])
        else:
            out = float(rec["value"])
        return _in_range(out, kind, field, settings.paper, f"{{ref: {value.ref}}}")
    name = value.assumed if isinstance(value, Assumed) else value.free
    try:
        out = settings[name]
    except KeyError:
        if isinstance(value, Free):
            raise SpecError(f"{settings.paper}: {field}: {{free: {name}}} has no fitted value. Fix: run "
                            f"`python -m helpers.calibrate {settings.paper}`") from None  # fmt: skip
        raise
    if isinstance(out, bool) or not isinstance(out, (int, float)):
        raise SpecError(f"{settings.paper}: {field}: {{assumed: {name}}} is {out!r}, not a number. "
                        f"Fix: give data/assumed/{settings.paper}.yaml's {name} a numeric value")  # fmt: skip
    return _in_range(float(out), kind, field, settings.paper, f"{value.model_dump()}")


def _in_range(x: float, kind: str, field: str, paper: str, what: str) -> float:
    """Refuse a value outside its field's range (a share above 1, a negative time) by name."""
    last = field.split(".")[-1].split("[")[0]
    bad = (not math.isfinite(x)
           or (kind == "probability" and not 0 <= x <= 1)
           or (kind in ("size", "time") and x < 0)
           or (last in ("median", "shape", "sd", "sdlog") and x <= 0 and kind != "log_ratio")
           or (last in ("rates", "dropout") and x < 0))  # fmt: skip
    if bad:
        raise SpecError(f"{paper}: {field}: {what} gives {x!r}, outside what this field takes "
                        f"({'a share from 0 to 1' if kind == 'probability' else 'a positive number'})")  # fmt: skip
    return x


@dataclass
class _Baseline:
    """A resolved baseline survival S0: inverse of the cumulative hazard, with a cure share."""

    kind: str
    median: float = math.nan
    shape: float = 1.0
    breaks: np.ndarray | None = None
    rates: np.ndarray | None = None
    cure: float = 0.0

    def time(self, hazard: np.ndarray) -> np.ndarray:
        """Event time where the cumulative hazard of S0 reaches ``hazard`` (inf: never)."""
        if self.cure > 0:  # S0 = cure + (1 - cure) Su: invert Su at (exp(-H) - cure) / (1 - cure)
            with np.errstate(divide="ignore", invalid="ignore"):
                su = (np.exp(-hazard) - self.cure) / (1 - self.cure)
                hazard = np.where(su > 0, -np.log(np.where(su > 0, su, 1.0)), np.inf)
        if self.kind == "piecewise":
            return _piecewise_time(hazard, self.breaks, self.rates)
        with np.errstate(over="ignore"):
            return self.median * (hazard / LN2) ** (1.0 / self.shape)


def _piecewise_time(hazard: np.ndarray, breaks: np.ndarray, rates: np.ndarray) -> np.ndarray:
    starts = np.concatenate([[0.0], breaks])
    cum = np.concatenate([[0.0], np.cumsum(rates[:-1] * np.diff(starts))])  # H0 at each start
    j = np.searchsorted(cum, hazard, side="right") - 1
    j = np.clip(j, 0, len(rates) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = starts[j] + (hazard - cum[j]) / rates[j]
    return np.where(np.isfinite(hazard) & ((rates[j] > 0) | (hazard == cum[j])), t, np.inf)


def _baseline(b, settings: Settings, field: str) -> _Baseline:
    if isinstance(b, Cure):
        inner = _baseline(b.uncured, settings, f"{field}.uncured")
        inner.cure = number(b.cure, settings, f"{field}.cure")
        return inner
    if isinstance(b, Exponential):
        return _Baseline("weibull", median=number(b.median, settings, f"{field}.median"))
    if isinstance(b, Weibull):
        return _Baseline("weibull", median=number(b.median, settings, f"{field}.median"),
                         shape=number(b.shape, settings, f"{field}.shape"))  # fmt: skip
    assert isinstance(b, Piecewise)
    breaks = np.array([number(x, settings, f"{field}.breaks[{i}]") for i, x in enumerate(b.breaks)])
    rates = np.array([number(x, settings, f"{field}.rates[{i}]") for i, x in enumerate(b.rates)])
    return _Baseline("piecewise", breaks=breaks, rates=rates)


def correlation_matrix(spec: Spec, settings: Settings) -> np.ndarray:
    """The latent correlation of the covariates (identity when none is declared)."""
    names = list(spec.covariates)
    corr = np.eye(len(names))
    c = spec.correlation
    if c is None:
        return corr
    if c.factor:
        load_ = np.array([number(c.factor[n], settings, f"correlation.factor.{n}") if n in c.factor else 0.0
                          for n in names])  # fmt: skip
        corr = np.outer(load_, load_)
        np.fill_diagonal(corr, 1.0)
    for k, pair in enumerate(c.copula):
        i, j = names.index(pair.between[0]), names.index(pair.between[1])
        corr[i, j] = corr[j, i] = number(pair.rho, settings, f"correlation.copula[{k}].rho")
    if np.linalg.eigvalsh(corr)[0] <= 1e-10:
        raise SpecError(f"{settings.paper}: correlation: the declared correlations are not a valid "
                        "correlation matrix (not positive definite). Fix: make them smaller or consistent")  # fmt: skip
    return corr


def _effects(effects: dict, spec: Spec, settings: Settings, field: str) -> list[tuple[str, int | None, float, float, float]]:
    """(variable, level index or None, coefficient, centre, unit) for every declared effect."""
    out = []
    for var, eff in effects.items():
        if isinstance(eff, dict):
            levels = spec.group_names() if var == "group" else spec.covariates[var].levels
            for level, v in eff.items():
                out.append((var, levels.index(level), number(v, settings, f"{field}.{var}.{level}"), 0.0, 1.0))
        else:
            cov = spec.covariates.get(var)
            centre, unit = 0.0, 1.0
            if cov is not None and cov.kind == "continuous":
                centre = _centre(cov, settings, f"covariates.{var}")
                unit = cov.unit
            out.append((var, None, number(eff, settings, f"{field}.{var}"), centre, unit))
    return out


def _centre(cov, settings: Settings, field: str) -> float:
    """The centre of a continuous covariate's effects: its median (the first group's, if given by group)."""
    value = cov.mean if cov.distribution == "normal" else cov.median
    where = f"{field}.{'mean' if cov.distribution == 'normal' else 'median'}"
    if isinstance(value, GroupValues):
        first = next(iter(value.by_group))
        return number(value.by_group[first], settings, f"{where}.by_group.{first}")
    return number(value, settings, where)


def _per_group(value, settings: Settings, field: str, groups: list[str]) -> np.ndarray:
    """A covariate parameter for each group (G,): one number repeated, or one per group."""
    if isinstance(value, GroupValues):
        return np.array([number(value.by_group[g], settings, f"{field}.by_group.{g}") for g in groups])
    return np.full(max(len(groups), 1), number(value, settings, field))


def _shares(cov, field: str, groups: list[str]) -> list[tuple[list, str]]:
    """(shares, field) of a categorical covariate for each group."""
    if isinstance(cov.shares, GroupShares):
        return [(cov.shares.by_group[g], f"{field}.shares.by_group.{g}") for g in groups]
    return [(cov.shares, f"{field}.shares")] * max(len(groups), 1)


def _cumulative(shares: list, cov, settings: Settings, field: str) -> np.ndarray:
    """Cumulative shares of the levels below the last (the cut points of Phi(Z))."""
    s = np.array([number(v, settings, f"{field}[{i}]") for i, v in enumerate(shares)])
    if len(s) < len(cov.levels):  # the reference level takes the rest
        s = np.concatenate([[1.0 - s.sum()], s])
    if abs(s.sum() - 1.0) > 0.02 or s.min() < 0:
        raise SpecError(f"{settings.paper}: {field} add up to {s.sum():.3f}, not 1. "
                        "Fix: give every level's share (rounded shares within 2 points are rescaled)")  # fmt: skip
    return np.cumsum(s / s.sum())[:-1]


def _linear_predictor(effects, values: dict[str, np.ndarray], n: int) -> np.ndarray:
    lp = np.zeros(n)
    for var, level, beta, centre, unit in effects:
        if beta == 0.0:
            continue
        x = values[var]
        lp += beta * ((x == level) if level is not None else (x - centre) / unit)
    return lp


@dataclass
class Compiled:
    """Every number of the model resolved for one ``Settings`` (what ``simulate`` draws from)."""

    sizes: list[int]
    chol: np.ndarray | None  # Cholesky factor of the latent correlation
    covariates: list[tuple[str, str, tuple]]  # (name, how it is drawn, its numbers)
    missing: list[float]
    endpoints: list[tuple]  # (name, "binary", effects, logit p0, within) / (name, "time", effects, baselines, after)
    censoring: tuple[float, float, float] | None  # followup, accrual, dropout rate


def compile_model(spec: Spec, settings: Settings) -> Compiled:
    """Resolve every spec number once (refs converted for their fields, ranges checked)."""
    sizes = [int(round(number(g.n, settings, f"groups[{i}].n"))) * settings.n_multiplier for i, g in enumerate(spec.groups)]
    covs, missing = [], []
    groups = spec.group_names()
    for name, cov in spec.covariates.items():
        field = f"covariates.{name}"
        if isinstance(cov, BinaryCovariate):
            prevalence = _per_group(cov.prevalence, settings, f"{field}.prevalence", groups)
            covs.append((name, "binary", (stats.norm.ppf(1.0 - prevalence),)))
        elif isinstance(cov, CategoricalCovariate):
            covs.append((name, "categorical", (np.stack([_cumulative(s, cov, settings, f) for s, f in _shares(cov, field, groups)]),)))
        elif cov.distribution == "normal":
            covs.append((name, "normal", (_per_group(cov.mean, settings, f"{field}.mean", groups), number(cov.sd, settings, f"{field}.sd"))))
        else:
            covs.append((name, "lognormal", (_per_group(cov.median, settings, f"{field}.median", groups),
                                             number(cov.sdlog, settings, f"{field}.sdlog"))))  # fmt: skip
        missing.append(number(cov.missing, settings, f"{field}.missing"))
    chol = np.linalg.cholesky(correlation_matrix(spec, settings)) if covs else None
    endpoints = []
    for name, ep in spec.endpoints.items():
        field = f"endpoints.{name}"
        if isinstance(ep, BinaryEndpoint):
            effects = _effects(ep.log_or, spec, settings, f"{field}.log_or")
            logit0 = special.logit(number(ep.probability, settings, f"{field}.probability"))
            endpoints.append((name, "binary", effects, logit0, ep.within))
        else:
            effects = _effects(ep.log_hr, spec, settings, f"{field}.log_hr")
            if isinstance(ep.baseline, ByGroup):
                bases = [_baseline(ep.baseline.by_group[g], settings, f"{field}.baseline.by_group.{g}") for g in spec.group_names()]
            else:
                bases = [_baseline(ep.baseline, settings, f"{field}.baseline")]
            endpoints.append((name, "time", effects, bases, ep.after))
    cens = None
    if spec.censoring is not None:
        c = spec.censoring
        cens = (number(c.followup, settings, "censoring.followup"), number(c.accrual, settings, "censoring.accrual"),
                number(c.dropout, settings, "censoring.dropout"))  # fmt: skip
    return Compiled(sizes, chol, covs, missing, endpoints, cens)


_COMPILED: list[tuple[Settings, Compiled]] = []  # the last few settings simulated from


def _compiled(settings: Settings) -> Compiled | None:
    for s, c in _COMPILED:
        if s is settings:
            return c
    spec = load(settings.paper).spec
    c = None if spec.is_draft else compile_model(spec, settings)
    _COMPILED[:] = [(settings, c), *_COMPILED[:3]]
    return c


def simulate(rng: np.random.Generator, settings: Settings) -> dict[str, np.ndarray]:
    """One cohort of the spec's study (all randomness from ``rng``; sizes times ``n_multiplier``).

    The numbers are resolved once per ``settings`` object (``compile_model``), then only drawn."""
    m = _compiled(settings)
    if m is None:  # a draft: nothing to simulate yet
        return {}
    n = sum(m.sizes)
    values: dict[str, np.ndarray] = {"group": np.repeat(np.arange(len(m.sizes)), m.sizes).astype(float)}
    # 2. covariates from one Gaussian copula
    z = rng.standard_normal((n, len(m.covariates)))
    if m.chol is not None:
        z = z @ m.chol.T
    g = values["group"].astype(int)  # covariate parameters are per group (equal unless given by group)
    for j, (name, how, par) in enumerate(m.covariates):
        if how == "binary":
            values[name] = (z[:, j] > par[0][g]).astype(float)
        elif how == "categorical":  # the level whose cumulative shares bracket Phi(Z)
            values[name] = (par[0][g] <= special.ndtr(z[:, j])[:, None]).sum(axis=1).astype(float)
        elif how == "normal":
            values[name] = par[0][g] + par[1] * z[:, j]
        else:
            values[name] = par[0][g] * np.exp(par[1] * z[:, j])
    # 3. endpoints, in order
    latent: dict[str, np.ndarray] = {}
    for name, kind, effects, a, b in m.endpoints:
        lp = _linear_predictor(effects, values, n)
        if kind == "binary":
            y = rng.random(n) < special.expit(a + lp)
            if b is not None:  # nested: only where the parent endpoint is 1
                y &= values[b] == 1
            values[name] = y.astype(float)
            continue
        hazard = rng.standard_exponential(n) * np.exp(-lp)  # H0(T) = E exp(-lp): S = S0 ** exp(lp)
        if len(a) == 1:
            t = a[0].time(hazard)
        else:
            t = np.empty(n)
            for k, base in enumerate(a):
                sel = values["group"] == k
                t[sel] = base.time(hazard[sel])
        latent[name] = t if b is None else latent[b] + t
    # 4. censoring, one cut-off per patient
    u, drop = rng.random(n), rng.standard_exponential(n)
    cens = np.full(n, np.inf)
    if m.censoring is not None:
        followup, accrual, rate = m.censoring
        cens = followup + accrual * u
        if rate > 0:
            cens = np.minimum(cens, drop / rate)
    for name, t in latent.items():
        if not np.isfinite(np.minimum(t, cens)).all():
            raise SpecError(f"{settings.paper}: endpoints.{name}: some patients never have the event and are "
                            "never censored. Fix: declare `censoring:`")  # fmt: skip
        values[f"{name}_time"] = np.minimum(t, cens)
        values[f"{name}_event"] = (t <= cens).astype(float)
    # 5. missing completely at random
    miss = rng.random((n, len(m.covariates)))
    for j, ((name, _, _), share) in enumerate(zip(m.covariates, m.missing, strict=True)):
        if share > 0:
            values[name] = np.where(miss[:, j] < share, np.nan, values[name])
    return values
