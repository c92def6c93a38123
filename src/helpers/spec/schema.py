"""The study spec: a short declarative description of a study's generative model and analyses.

One YAML file per paper, ``data/specs/<paper>.yaml``, validated by the pydantic models below (the
format, with a worked example, is in ``docs/add_a_paper.md``). The same models are the Python API
for building a spec in code (``Spec(...)``, ``ref(...)``, ``assumed(...)``, ``free(...)``,
``write(spec, path)``), so a generator can write what a person would.

**Every number** in a spec is one of

- ``{ref: CLAIM-ID/item}``: a printed number taken as an input (counts, sizes, prevalences); it is
  converted by the field it fills (a percentage used as a probability is divided by 100, a count
  printed with its denominator becomes count / n, a printed HR used as a log HR is logged);
- ``{assumed: name}``: an entry of ``data/assumed/<paper>.yaml`` (with why, source and range);
- ``{free: name}``: a parameter the calibration fits (declared under ``calibration.free``);
- the literal 0 or 1, for structural constants only (a zero log HR, no missingness, a Weibull
  shape of 1). Any other literal is refused: a printed number belongs in the ledger, an invented
  one in the assumptions. Optimiser settings (start, bounds, seed) and units are literals.

A malformed spec raises ``SpecError`` naming the file, the field and the fix, before any simulation.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

REF = r"^[A-Z][A-Z0-9]*-\d{2}/[a-z0-9_]+$"
NAME = r"^[a-z][a-z0-9_]*$"
STRUCTURAL_LITERALS = (0.0, 1.0)
DOCS = "docs/add_a_paper.md"


class SpecError(ValueError):
    """A study spec is missing or malformed; the message names the file, the field and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------- numbers
class Ref(_Strict):
    """A printed number taken as an input: ``{ref: CLAIM-ID/item}``."""

    ref: str = Field(pattern=REF)


class Assumed(_Strict):
    """An assumed value: ``{assumed: name}`` (an entry of data/assumed/<paper>.yaml)."""

    assumed: str = Field(pattern=NAME)


class Free(_Strict):
    """A calibrated parameter: ``{free: name}`` (declared under ``calibration.free``)."""

    free: str = Field(pattern=NAME)


def _number(value: Any, literals: tuple[float, ...] | None) -> Any:
    """Parse one spec number; ``literals``: the literal values allowed (None: any)."""
    if isinstance(value, BaseModel):
        return value
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        kind = {"ref": Ref, "assumed": Assumed, "free": Free}.get(key)
        if kind is not None:
            return kind.model_validate(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if literals is None or float(value) in literals:
            return float(value)
        raise ValueError(
            f"the literal {value!r} is not a structural constant. Fix: a printed number goes in the ledger "
            "and enters as {ref: CLAIM-ID/item}; a value the paper does not give goes in "
            "data/assumed/<paper>.yaml and enters as {assumed: name}; a fitted one as {free: name} "
            "(literals allowed here: 0 and 1)"
        )
    raise ValueError(
        f"expected {{ref: CLAIM-ID/item}}, {{assumed: name}}, {{free: name}} or the literal 0 or 1; got {value!r}. "
        "Fix: write a printed number as {ref: CLAIM-ID/item}, an assumed one as {assumed: name}"
    )


Value = Annotated[Ref | Assumed | Free | float, BeforeValidator(lambda v: _number(v, STRUCTURAL_LITERALS))]
# where a literal is a structural choice, not a model quantity (e.g. the break points of a
# piecewise-exponential hazard): any literal, or a ref / assumed value
Structural = Annotated[Ref | Assumed | Free | float, BeforeValidator(lambda v: _number(v, None))]


def ref(text: str) -> Ref:
    return Ref(ref=text)


def assumed(name: str) -> Assumed:
    return Assumed(assumed=name)


def free(name: str) -> Free:
    return Free(free=name)


# ----------------------------------------------------------------------------- design
class Group(_Strict):
    """An arm or cohort and its size (``n``: a printed count, times ``n_multiplier`` when scaled)."""

    name: str = Field(pattern=NAME)
    n: Value


class GroupValues(_Strict):
    """One number per group: a covariate distributed differently by arm (a Table 1 printed by arm)."""

    by_group: dict[str, Value] = Field(min_length=1)


class GroupShares(_Strict):
    """A categorical covariate's shares per group (each list as ``shares`` takes it)."""

    by_group: dict[str, list[Value]] = Field(min_length=1)


def _by_group_tag(v: Any) -> str:
    return "by_group" if (isinstance(v, dict) and "by_group" in v) or isinstance(v, (GroupValues, GroupShares)) else "one"


# a covariate's parameter: one number for every patient, or one per group
PerGroup = Annotated[Annotated[Value, Tag("one")] | Annotated[GroupValues, Tag("by_group")], Discriminator(_by_group_tag)]
PerGroupShares = Annotated[Annotated[list[Value], Tag("one")] | Annotated[GroupShares, Tag("by_group")],
                           Discriminator(_by_group_tag)]  # fmt: skip


class BinaryCovariate(_Strict):
    kind: Literal["binary"]
    prevalence: PerGroup
    missing: Value = 0.0  # share missing completely at random


class CategoricalCovariate(_Strict):
    kind: Literal["categorical"]
    levels: list[str] = Field(min_length=2)  # the first level is the reference
    shares: PerGroupShares  # one per level, or one per non-reference level (the reference takes the rest)
    missing: Value = 0.0

    @model_validator(mode="after")
    def _check(self) -> CategoricalCovariate:
        lists = self.shares.by_group.values() if isinstance(self.shares, GroupShares) else [self.shares]
        if any(len(s) not in (len(self.levels), len(self.levels) - 1) for s in lists):
            raise ValueError(f"{len(self.levels)} levels but {[len(s) for s in lists]} shares. Fix: give one share per level "
                             "(or per non-reference level: the reference level takes the rest)")
        if len(set(self.levels)) != len(self.levels):
            raise ValueError("a level is repeated. Fix: name each level once")
        return self


class ContinuousCovariate(_Strict):
    """Normal (``mean``, ``sd``) or lognormal (``median``, ``sdlog``); effects act per ``unit``,
    centred at the distribution's median (so the baseline patient has the median value; with a
    median per group, the first group's)."""

    kind: Literal["continuous"]
    distribution: Literal["normal", "lognormal"]
    mean: PerGroup | None = None
    sd: Value | None = None
    median: PerGroup | None = None
    sdlog: Value | None = None
    unit: float = Field(default=1.0, gt=0)  # effects (log HR, log OR) per this many units
    missing: Value = 0.0

    @model_validator(mode="after")
    def _check(self) -> ContinuousCovariate:
        need, other = (("mean", "sd"), ("median", "sdlog"))[:: 1 if self.distribution == "normal" else -1]
        if any(getattr(self, f) is None for f in need) or any(getattr(self, f) is not None for f in other):
            raise ValueError(f"a {self.distribution} covariate takes {need[0]} and {need[1]}. Fix: give those (not {other[0]}, {other[1]})")
        return self


Covariate = Annotated[BinaryCovariate | CategoricalCovariate | ContinuousCovariate, Field(discriminator="kind")]


class Pair(_Strict):
    between: tuple[str, str]
    rho: Value  # latent (Gaussian copula) correlation


class Correlation(_Strict):
    """A Gaussian copula with pairwise latent correlations, or one latent factor with loadings."""

    copula: list[Pair] = []
    factor: dict[str, Value] = {}

    @model_validator(mode="after")
    def _one(self) -> Correlation:
        if bool(self.copula) == bool(self.factor):
            raise ValueError("both or neither of copula and factor. Fix: give either `copula:` (pairs) or `factor:` (loadings)")
        return self


# ----------------------------------------------------------------------------- endpoints
class Exponential(_Strict):
    distribution: Literal["exponential"]
    median: Value


class Weibull(_Strict):
    distribution: Literal["weibull"]
    median: Value
    shape: Value


class Piecewise(_Strict):
    """Constant hazards ``rates`` (per time unit) between ``breaks`` (one more rate than breaks)."""

    distribution: Literal["piecewise"]
    breaks: list[Structural] = Field(min_length=1)
    rates: list[Value]

    @model_validator(mode="after")
    def _check(self) -> Piecewise:
        if len(self.rates) != len(self.breaks) + 1:
            raise ValueError(f"{len(self.breaks)} breaks need {len(self.breaks) + 1} rates, got {len(self.rates)}. Fix: one rate before, between and after the breaks")
        lits = [b for b in self.breaks if isinstance(b, float)]
        if lits != sorted(set(lits)) or any(b <= 0 for b in lits):
            raise ValueError("breaks are not positive and increasing. Fix: list them in increasing order")
        return self


Uncured = Annotated[Exponential | Weibull | Piecewise, Field(discriminator="distribution")]


class Cure(_Strict):
    """Mixture cure: a share ``cure`` never has the event; the others follow ``uncured``."""

    distribution: Literal["cure"]
    cure: Value
    uncured: Uncured


Baseline = Annotated[Exponential | Weibull | Piecewise | Cure, Field(discriminator="distribution")]


class ByGroup(_Strict):
    """A baseline per group (every group named once)."""

    by_group: dict[str, Baseline]


def _baseline_tag(v: Any) -> str | None:
    if isinstance(v, dict):
        return "by_group" if "by_group" in v else v.get("distribution")
    return "by_group" if isinstance(v, ByGroup) else getattr(v, "distribution", None)


# one baseline, or one per group; the tag picks the form, so an error names that form's fields only
BaselineOrGroups = Annotated[
    Annotated[Exponential, Tag("exponential")] | Annotated[Weibull, Tag("weibull")]
    | Annotated[Piecewise, Tag("piecewise")] | Annotated[Cure, Tag("cure")] | Annotated[ByGroup, Tag("by_group")],
    Discriminator(_baseline_tag, custom_error_type="baseline", custom_error_message=(
        "not a baseline. Fix: give `distribution:` exponential, weibull, piecewise or cure, or `by_group:`")),
]  # fmt: skip


def _effect_tag(v: Any) -> str:
    number_keys = {"ref", "assumed", "free"}
    return "levels" if isinstance(v, dict) and not (len(v) == 1 and set(v) <= number_keys) else "number"


# an effect: one number (binary or continuous covariate, binary endpoint) or one per level
Effect = Annotated[Annotated[Value, Tag("number")] | Annotated[dict[str, Value], Tag("levels")],
                   Discriminator(_effect_tag)]  # fmt: skip


class BinaryEndpoint(_Strict):
    """A yes/no outcome: logit P = logit(probability) + sum of log ORs (baseline patient)."""

    kind: Literal["binary"]
    probability: Value  # for the baseline patient; with `within`, given the parent is 1
    log_or: dict[str, Effect] = {}
    within: str | None = None  # nested: only patients with this earlier binary endpoint = 1


class TimeEndpoint(_Strict):
    """Time to event: S(t | x) = S0(t) ** exp(sum of log HRs) (proportional hazards, also with cure)."""

    kind: Literal["time"]
    baseline: BaselineOrGroups
    log_hr: dict[str, Effect] = {}
    after: str | None = None  # this time starts at that earlier endpoint's event (OS after progression)


Endpoint = Annotated[BinaryEndpoint | TimeEndpoint, Field(discriminator="kind")]


class Censoring(_Strict):
    """Administrative censoring: uniform accrual over ``accrual``, then ``followup`` after the last
    patient; optional exponential ``dropout`` (rate per time unit)."""

    accrual: Value
    followup: Value
    dropout: Value = 0.0


class Analysis(_Strict):
    cox_ties: Literal["efron", "breslow"] | Assumed = "efron"


# ----------------------------------------------------------------------------- items
Test = Literal["logrank", "cox_wald", "wald", "fisher", "chi2"]


class ItemMap(_Strict):
    """How one ledger item is re-derived; what is computed follows the item's quantity kind."""

    endpoint: str | None = None  # a time or binary endpoint
    covariate: str | None = None  # count / percent / median of a covariate instead of an endpoint
    level: str | None = None  # the level counted (categorical covariate; default 1 for binary)
    subset: dict[str, str | int] = {}  # only patients with these values (group name, level, 0/1)
    covariates: list[str] = []  # model terms of an HR / OR / Cox-Wald P (multivariable if several)
    term: str | None = None  # which term's ratio ("bulky", "stage:III"); default the first
    test: Test | None = None  # P: which test; default Cox Wald (time), logistic Wald (binary), log-rank (by)
    by: str | None = None  # grouping variable of a log-rank, Fisher or chi-squared test
    time_unit: Literal["days", "weeks", "months", "years"] | None = None  # of the ledger `time`
    correction: bool = True  # Yates' correction of a 2 x 2 chi-squared test


# ----------------------------------------------------------------------------- calibration
class FreeParameter(_Strict):
    start: float
    bounds: tuple[float, float]
    transform: Literal["identity", "log", "logit"] = "identity"

    @model_validator(mode="after")
    def _check(self) -> FreeParameter:
        lo, hi = self.bounds
        if not lo < self.start < hi:
            raise ValueError(f"start {self.start} is not strictly inside bounds {list(self.bounds)}. Fix: move the start or widen the bounds")
        if self.transform == "log" and lo <= 0:
            raise ValueError("a log-transformed parameter needs bounds above 0. Fix: raise the lower bound or use transform: identity")
        if self.transform == "logit" and not (0 <= lo and hi <= 1):
            raise ValueError("a logit-transformed parameter needs bounds within [0, 1]. Fix: narrow the bounds or use transform: log")
        return self


class Calibration(_Strict):
    targets: list[Annotated[str, Field(pattern=REF)]] = Field(min_length=1)
    free: dict[str, FreeParameter] = Field(min_length=1)
    seed: int = Field(default=20221208, ge=0)  # common random numbers: one cohort for every evaluation
    n_multiplier: int = Field(default=20, ge=1)  # the calibration cohort: printed sizes times this
    max_nfev: int = Field(default=200, ge=1)
    diff_step: float = Field(default=0.02, gt=0)  # relative finite-difference step (KM medians are steps)
    # the fit stops when an iteration moves the parameters or the objective relatively less than this
    # (scipy's xtol and ftol; its default 1e-8 polishes far below the targets' printed precision)
    tolerance: float = Field(default=1e-8, gt=0, lt=1)


# ----------------------------------------------------------------------------- the spec
class Spec(_Strict):
    paper: str = Field(pattern=NAME)
    time_unit: Literal["days", "weeks", "months", "years"] = "months"
    groups: list[Group] = []  # none yet: a draft (nothing is simulated; every item is not-rederived)
    covariates: dict[str, Covariate] = {}
    correlation: Correlation | None = None
    endpoints: dict[str, Endpoint] = {}
    censoring: Censoring | None = None
    analysis: Analysis = Analysis()
    items: dict[Annotated[str, Field(pattern=REF)], ItemMap] = {}
    calibration: Calibration | None = None
    reasons: dict[Annotated[str, Field(pattern=REF)], str] = {}  # why an item is contradicted

    @field_validator("covariates", "endpoints")
    @classmethod
    def _names(cls, value: dict) -> dict:
        for name in value:
            if not re.match(NAME, name):
                raise ValueError(f"name {name!r} is not allowed. Fix: use lower case letters, digits and _ (starting with a letter)")
        return value

    @model_validator(mode="after")
    def _cross(self) -> Spec:
        problems = _cross_check(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- what the spec uses
    def numbers(self) -> list[tuple[str, Any]]:
        """(field path, number) for every number of the model (not items or calibration settings)."""
        out: list[tuple[str, Any]] = []
        _walk(self.model_dump(include={"groups", "covariates", "correlation", "endpoints", "censoring"},
                              exclude_none=True), "", out)  # fmt: skip
        return out

    def refs(self) -> list[str]:
        """Printed numbers the model takes as inputs, in order of first use."""
        return list(dict.fromkeys(v["ref"] for _, v in self.numbers() if isinstance(v, dict) and "ref" in v))

    def assumed_names(self) -> list[str]:
        names = [v["assumed"] for _, v in self.numbers() if isinstance(v, dict) and "assumed" in v]
        if isinstance(self.analysis.cox_ties, Assumed):
            names.append(self.analysis.cox_ties.assumed)
        return list(dict.fromkeys(names))

    def free_names(self) -> list[str]:
        return list(dict.fromkeys(v["free"] for _, v in self.numbers() if isinstance(v, dict) and "free" in v))

    def group_names(self) -> list[str]:
        return [g.name for g in self.groups]

    @property
    def is_draft(self) -> bool:
        """No groups yet: the paper is registered but its model is not written."""
        return not self.groups

    @field_validator("reasons")
    @classmethod
    def _reasons(cls, value: dict) -> dict:
        for key, text in value.items():
            if not re.match(r"^(model: |assumption [a-z][a-z0-9_]*: |infeasible: ).{5,}", text):
                raise ValueError(f"the reason of {key} must start with 'model: ', 'assumption NAME: ' or 'infeasible: '. Fix: say which, then why")
        return value


def _walk(node: Any, path: str, out: list) -> None:
    if isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("ref", "assumed", "free"):
        out.append((path, node))
    elif isinstance(node, dict):
        for k, v in node.items():
            _walk(v, f"{path}.{k}" if path else str(k), out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk(v, f"{path}[{i}]", out)
    elif isinstance(node, float):
        out.append((path, node))


def _cross_check(spec: Spec) -> list[str]:
    """Names that must refer to each other: effects, nesting, groups, items, free parameters."""
    problems = []
    groups = spec.group_names()
    if len(set(groups)) != len(groups):
        problems.append("groups: a group name is repeated. Fix: name each group once")
    clash = (set(spec.covariates) & set(spec.endpoints)) | ({"group"} & (set(spec.covariates) | set(spec.endpoints)))
    if clash:
        problems.append(f"covariates / endpoints: the names {sorted(clash)} are used twice (covariate, endpoint or `group`). Fix: rename one")
    # a variable an effect, a subset or a test may use: covariates, groups, earlier binary endpoints
    levels = {"group": groups}
    for name, cov in spec.covariates.items():
        levels[name] = cov.levels if isinstance(cov, CategoricalCovariate) else None
        for fld in ("prevalence", "shares", "mean", "median"):
            per = getattr(cov, fld, None)
            if isinstance(per, (GroupValues, GroupShares)) and sorted(per.by_group) != sorted(groups):
                problems.append(f"covariates.{name}.{fld}.by_group: the groups named differ from the groups. "
                                f"Fix: give one for each of {', '.join(groups)}")  # fmt: skip
    seen_binary, seen_time = [], []
    for name, ep in spec.endpoints.items():
        where = f"endpoints.{name}"
        effects = ep.log_or if isinstance(ep, BinaryEndpoint) else ep.log_hr
        for var, eff in effects.items():
            problems += _effect_problems(f"{where}.{'log_or' if isinstance(ep, BinaryEndpoint) else 'log_hr'}.{var}",
                                         var, eff, levels, seen_binary)  # fmt: skip
        if isinstance(ep, BinaryEndpoint):
            if ep.within is not None and ep.within not in seen_binary:
                problems.append(f"{where}.within: {ep.within!r} is not an earlier binary endpoint. Fix: name a binary endpoint listed above {name}")
            seen_binary.append(name)
        else:
            if ep.after is not None and ep.after not in seen_time:
                problems.append(f"{where}.after: {ep.after!r} is not an earlier time endpoint. Fix: name a time endpoint listed above {name}")
            if isinstance(ep.baseline, ByGroup) and sorted(ep.baseline.by_group) != sorted(groups):
                problems.append(f"{where}.baseline.by_group: the groups named differ from the groups. Fix: give one baseline for each of {', '.join(groups)}")
            seen_time.append(name)
    if spec.correlation is not None:
        named = [n for p in spec.correlation.copula for n in p.between] + list(spec.correlation.factor)
        if unknown := sorted(set(named) - set(spec.covariates)):
            problems.append(f"correlation: {unknown} are not covariates. Fix: correlate covariates only")
        pairs = [tuple(sorted(p.between)) for p in spec.correlation.copula]
        if any(a == b for a, b in pairs) or len(set(pairs)) != len(pairs):
            problems.append("correlation.copula: a pair is repeated or joins a covariate with itself. Fix: list each pair once")
    if spec.censoring is None and any(_has_cure(ep) for ep in spec.endpoints.values()):
        problems.append("censoring: missing, but a baseline has a cure share (cured patients are only ever censored). Fix: add `censoring:` with accrual and followup")
    variables = {**{k: v for k, v in levels.items()}, **{b: None for b in seen_binary}}
    for key, m in spec.items.items():
        problems += [f"items.{key}: {p}" for p in _item_problems(m, spec, variables)]
    declared = set(spec.calibration.free) if spec.calibration else set()
    used = set(spec.free_names())
    if used - declared:
        problems.append(f"calibration.free: {sorted(used - declared)} are used as {{free: name}} but not declared. Fix: declare each with start, bounds and transform")
    if declared - used:
        problems.append(f"calibration.free: {sorted(declared - used)} are declared but no {{free: name}} uses them. Fix: remove them")
    if spec.calibration:
        missing = [t for t in spec.calibration.targets if t not in spec.items]
        if missing:
            problems.append(f"calibration.targets: {missing} have no entry under items. Fix: say under items: how each is re-derived")
    return problems


def _has_cure(ep) -> bool:
    if not isinstance(ep, TimeEndpoint):
        return False
    bases = ep.baseline.by_group.values() if isinstance(ep.baseline, ByGroup) else [ep.baseline]
    return any(isinstance(b, Cure) for b in bases)


def _effect_problems(where: str, var: str, eff, levels: dict, seen_binary: list) -> list[str]:
    if var not in levels and var not in seen_binary:
        return [f"{where}: {var!r} is not a covariate, `group` or an earlier binary endpoint. Fix: correct the name or declare it"]
    lv = levels.get(var)
    if lv is None:
        return [] if not isinstance(eff, dict) else [f"{where}: {var} has no levels. Fix: give one number"]
    if not isinstance(eff, dict):
        return [f"{where}: {var} has levels. Fix: give one log ratio per non-reference level ({', '.join(lv[1:])})"]
    if bad := sorted(set(eff) - set(lv[1:])):
        return [f"{where}: {bad} are not non-reference levels of {var}. Fix: use {', '.join(lv[1:])} ({lv[0]} is the reference)"]
    return []


def _item_problems(m: ItemMap, spec: Spec, variables: dict) -> list[str]:
    out = []
    if m.endpoint is not None and m.endpoint not in spec.endpoints:
        out.append(f"endpoint {m.endpoint!r} is not an endpoint. Fix: use one of {', '.join(spec.endpoints) or '(none declared yet)'}")
    if m.covariate is not None and m.covariate not in spec.covariates:
        out.append(f"covariate {m.covariate!r} is not a covariate. Fix: use one of {', '.join(spec.covariates) or '(none declared yet)'}")
    for var, val in m.subset.items():
        if var not in variables:
            out.append(f"subset: {var!r} is not a covariate, `group` or binary endpoint. Fix: correct the name")
        elif variables[var] is not None and str(val) not in variables[var]:
            out.append(f"subset: {val!r} is not a level of {var}. Fix: use one of {', '.join(variables[var])}")
    for var in [*m.covariates, *([m.by] if m.by else [])]:
        if var not in variables:
            out.append(f"{var!r} is not a covariate, `group` or binary endpoint. Fix: correct the name")
    return out


# ----------------------------------------------------------------------------- reading, writing
def _all_fields() -> set[str]:
    models = [Spec, Group, GroupValues, GroupShares, BinaryCovariate, CategoricalCovariate, ContinuousCovariate, Pair, Correlation,
              Exponential, Weibull, Piecewise, Cure, ByGroup, BinaryEndpoint, TimeEndpoint, Censoring,
              Analysis, ItemMap, FreeParameter, Calibration, Ref, Assumed, Free]  # fmt: skip
    return {f for m in models for f in m.model_fields}


FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it or correct its spelling",
    "union_tag_invalid": "use one of the kinds named",
    "union_tag_not_found": "add the `kind:` (or `distribution:`) that says which form this is",
    "literal_error": "use one of the values named",
    "string_pattern_mismatch": "follow the pattern (names: lower case, digits, _; refs: CLAIM-ID/item)",
    "too_short": "give at least one entry",
}


_EFFECT_TAGS = ("number", "levels")


def _locate(data: Any, loc: tuple) -> tuple[str, str | None]:
    """A pydantic location as a dotted path in the file ('endpoints.pfs.baseline.median'),
    skipping the tags pydantic inserts for a discriminated union; and the last key."""
    parts, node, last = [], data, None
    for i, key in enumerate(loc):
        if isinstance(node, dict) and key in (node.get("kind"), node.get("distribution")) or (
            key in _EFFECT_TAGS and not (isinstance(node, dict) and key in node)
        ):
            continue  # the tag of a discriminated union, not a field
        if isinstance(node, list) and isinstance(key, int) and key < len(node):
            parts[-1:] = [f"{parts[-1]}[{key}]"] if parts else [f"[{key}]"]
            node = node[key]
        elif isinstance(node, dict) and key in node:
            parts.append(str(key))
            node, last = node[key], str(key)
        elif i == len(loc) - 1 and isinstance(key, str) and key[:1].islower() and "[" not in key:
            parts.append(key)  # a missing field: name it
            last = key
    return ".".join(parts) or "top level", last


def explain(exc: ValidationError, data: Any) -> str:
    """The first validation error as 'field: problem. Fix: ...' (a misspelt field first: it
    explains the 'missing' error of the field it was meant to be)."""
    errors = exc.errors()
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    msg = err["msg"].removeprefix("Value error, ")
    if not err["loc"]:  # a check across fields: each problem names its field and fix
        return msg
    where, last = _locate(data, err["loc"])
    fix = FIXES.get(err["type"])
    if err["type"] == "extra_forbidden" and last:
        close = difflib.get_close_matches(last, _all_fields(), n=1)
        fix = f"remove `{last}` or correct its spelling" + (f" (did you mean `{close[0]}`?)" if close else "")
    if fix is None and "Fix:" not in msg:
        fix = f"see the spec format in {DOCS}"
    return f"{where}: {msg}" + (f". Fix: {fix}" if fix else "")


def read(path: Path, paper: str | None = None) -> Spec:
    """Load and validate one spec file; ``SpecError`` names the file, the field and the fix.

    ``paper``: the paper it must declare (default the file's name: data/specs/<paper>.yaml)."""
    if not path.exists():
        raise SpecError(f"{path}: file not found. `make new-paper NAME=<paper>` writes a skeleton; the format is in {DOCS}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path.name}: not valid YAML ({exc}). Fix the syntax at the line shown") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path.name}: expected a mapping with keys paper, groups, covariates, endpoints, items")
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{path.name}: {explain(exc, data)}") from None
    # a variant <paper>.<variant>.yaml models its paper's numbers; an outside study names its own
    expected = paper or path.stem.split(".", 1)[0]
    if spec.paper != expected:
        named_by = "the file name" if path.stem.split(".", 1)[0] == expected else "the study it belongs to"
        raise SpecError(f"{path.name}: paper: {spec.paper!r} differs from {named_by}. Fix: paper: {expected}")
    return spec


def dump(spec: Spec) -> str:
    """The spec as YAML text, in the order of the format (defaults left out)."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def write(spec: Spec, path: Path) -> Path:
    """Write ``spec`` to ``path`` (validated on the way back in: what is written can be read)."""
    text = dump(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    read(path, spec.paper)
    return path

