"""A spec checked against its paper's ledger and assumptions, and turned into analysis plans.

``load(paper)`` reads ``data/specs/<paper>.yaml`` (``schema.read``), then checks what only the
other files can tell: every ``{ref: ...}`` names a printed number of the right kind for its field,
every ``{assumed: ...}`` an entry of ``data/assumed/<paper>.yaml``, every ``items:`` entry a
ledger item whose quantity kind the mapping can re-derive. Any problem raises ``SpecError``
naming the file, the field and the fix, before anything is simulated. The result is cached until
one of the three files changes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import SimpleNamespace

from .. import assumptions, contract, ledger, paths
from .schema import (
    BinaryEndpoint,
    CategoricalCovariate,
    ContinuousCovariate,
    ItemMap,
    Spec,
    SpecError,
    TimeEndpoint,
    read,
)

TIME_UNITS = {"days": 1 / 30.4375, "weeks": 7 / 30.4375, "months": 1.0, "years": 12.0}  # in months
# what each kind of field takes from a printed number, and from which quantity kinds
FIELD_KINDS = {
    "size": ("n", "count"),
    "probability": ("percent", "landmark_survival", "landmark_event", "count"),
    "time": ("median", "followup"),
    "log_ratio": ("HR", "OR", "fold_change"),
    "real": None,  # any printed value
}
# quantity kind -> (what the mapping must name, extra fields it may use)
SUPPORTED = {
    "n": "patients in the subset (with a non-missing endpoint / covariate if one is named)",
    "count": "patients with the binary endpoint or covariate level (events of a time endpoint)",
    "percent": "the same count over the patients with a non-missing value, exact (Clopper-Pearson) CI",
    "median": "Kaplan-Meier median of a time endpoint (R/SAS midpoint rule, log-log CI); sample median of a continuous covariate",
    "landmark_survival": "Kaplan-Meier survival at the item's `time`",
    "landmark_event": "100 minus Kaplan-Meier survival at the item's `time`",
    "followup": "reverse Kaplan-Meier median of a time endpoint",
    "HR": "Cox model of a time endpoint on `covariates` (ties per analysis.cox_ties), the `term`'s HR",
    "OR": "logistic model of a binary endpoint on `covariates`, the `term`'s OR",
    "P": "the `test`: logrank (time endpoint `by` a variable), cox_wald (time endpoint on `covariates`), wald (logistic, binary endpoint on `covariates`), fisher (binary endpoint `by` a binary variable), chi2 (binary endpoint `by` any variable)",
}
TARGET_KINDS = ("count", "percent", "median", "landmark_survival", "landmark_event", "followup", "HR", "OR")


def spec_path(paper: str) -> Path:
    return paths.paper_file("spec", paper)


@dataclass(frozen=True)
class ItemPlan:
    """One ledger item and how it is re-derived (the mapping, resolved against the spec)."""

    ref: str
    quantity: str
    map: ItemMap
    time: float | None = None  # landmark time in the spec's time unit
    test: str | None = None  # the P value's test ("cox_wald", "logrank", "wald", "fisher", "chi2")

    @property
    def claim_id(self) -> str:
        return self.ref.split("/")[0]

    @property
    def item(self) -> str:
        return self.ref.split("/")[1]


@dataclass(frozen=True)
class Plan:
    paper: str  # whose ledger the items are
    path: Path
    spec: Spec
    items: dict[str, ItemPlan]  # mapped ledger items, in ledger order
    key: str = ""  # the model key: the paper, or a variant <paper>.<variant> (helpers.contract)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(self.spec.refs())

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self.spec.calibration.targets) if self.spec.calibration else ()

    @property
    def free(self) -> tuple[str, ...]:
        return tuple(self.spec.calibration.free) if self.spec.calibration else ()


def files(key: str) -> tuple[Path, Path, Path]:
    """The spec, the ledger and the assumptions a model key reads: a variant ``<paper>.<variant>``
    has its own spec and assumptions and its paper's ledger."""
    paper = contract.paper_of(key)
    return spec_path(key), paths.paper_file("reported", paper), paths.paper_file("assumed", key)


def load(key: str) -> Plan:
    """The spec of a paper (or variant), checked against its ledger and assumptions (cached until a
    file changes)."""
    read_ = files(key)
    stamp = tuple((str(f), f.stat().st_mtime_ns if f.exists() else 0) for f in read_)  # a copy elsewhere is another plan
    return _load(key, stamp)


@cache
def _load(key: str, stamp: tuple) -> Plan:
    p, _, assumed_path = files(key)
    paper = contract.paper_of(key)
    spec = read(p, paper)
    if not ledger.is_paper(spec.paper):
        raise SpecError(f"{p.name}: paper {spec.paper!r} is not registered. Fix: add it to "
                        "data/reported/claims_index.yaml (`make new-paper NAME=...` does)")  # fmt: skip
    frame = ledger.frame(paper)
    rows = {f"{c}/{i}": r for c, i, r in zip(frame.claim_id, frame["item"], frame.itertuples(), strict=True)}

    def fail(field: str, problem: str, fix: str) -> None:
        raise SpecError(f"{p.name}: {field}: {problem}. Fix: {fix}")

    for field, number in spec.numbers():
        if isinstance(number, dict) and "ref" in number:
            _check_ref(number["ref"], field, rows, paper, fail)
    known = set(assumptions.entries(key)) if assumed_path.exists() else set()
    for name in spec.assumed_names():
        if name not in known:
            fail(f"{{assumed: {name}}}", f"no entry {name!r} in data/assumed/{key}.yaml",
                 "add it there with value, why, source and range (or alternatives, or fixed)")  # fmt: skip
    items = {}
    for ref, m in spec.items.items():
        if ref not in rows:
            fail(f"items.{ref}", f"not an item of data/reported/{paper}.yaml", "correct the reference or enter the item in the ledger")
        items[ref] = _item_plan(ref, rows[ref], m, spec, fail)
    for ref in spec.calibration.targets if spec.calibration else ():
        if items[ref].quantity not in TARGET_KINDS:
            fail(f"calibration.targets.{ref}", f"a {items[ref].quantity} cannot be a calibration target",
                 f"fit to one of the kinds {', '.join(TARGET_KINDS)}")  # fmt: skip
        if rows[ref].value is None or not math.isfinite(rows[ref].value):
            fail(f"calibration.targets.{ref}", f"printed {rows[ref].printed!r} is not a number to fit to", "choose another target")
    for ref in spec.reasons:
        if ref not in rows:
            fail(f"reasons.{ref}", "not an item of the ledger", "correct the reference")
    order = {ref: i for i, ref in enumerate(rows)}
    return Plan(paper, p, spec, dict(sorted(items.items(), key=lambda kv: order[kv[0]])), key)


def field_kind(field: str) -> str:
    """What a number in this spec field means: size, probability, time, log_ratio or real (a value
    given per group means what the field means: 'prevalence.by_group.a' is a probability)."""
    field = re.sub(r"\.by_group\.[a-z][a-z0-9_]*", "", field)
    last = field.split(".")[-1].split("[")[0]
    if field.startswith("groups") and last == "n":
        return "size"
    if ".log_hr." in f"{field}." or ".log_or." in f"{field}.":
        return "log_ratio"
    if last in ("prevalence", "probability", "cure", "missing", "shares"):
        return "probability"
    if field.startswith("endpoints") and last in ("median", "breaks") or last in ("accrual", "followup"):
        return "time"
    return "real"


def _check_ref(ref: str, field: str, rows: dict, paper: str, fail) -> None:
    if ref not in rows:
        fail(field, f"{{ref: {ref}}} is not an item of data/reported/{paper}.yaml", "enter the printed number in the ledger first")
    row = rows[ref]
    kind = field_kind(field)
    allowed = FIELD_KINDS[kind]
    if allowed is not None and row.quantity not in allowed:
        fail(field, f"{{ref: {ref}}} is a {row.quantity}, but this field takes a {kind.replace('_', ' ')}",
             f"refer to a {' / '.join(allowed)} item, or use {{assumed: name}} with a `derived_from: [{ref}]`")  # fmt: skip
    if row.value is None or not math.isfinite(row.value):
        fail(field, f"{{ref: {ref}}} has no numeric value (printed {row.printed!r})", "refer to a printed number")
    if kind == "probability" and row.quantity == "count" and not (row.n and row.n > 0):
        fail(field, f"{{ref: {ref}}} is a count printed without its denominator `n`", "refer to the percentage, or add `n` to the ledger item")
    if kind == "size" and row.value != int(row.value):
        fail(field, f"{{ref: {ref}}} = {row.printed} is not a whole number of patients", "refer to a count")


def variable_levels(spec: Spec, name: str) -> list[str] | None:
    """Levels of a categorical variable (``group``, a categorical covariate); None for 0/1 or continuous."""
    if name == "group":
        return spec.group_names()
    cov = spec.covariates.get(name)
    return cov.levels if isinstance(cov, CategoricalCovariate) else None


def is_continuous(spec: Spec, name: str) -> bool:
    return isinstance(spec.covariates.get(name), ContinuousCovariate)


def terms(spec: Spec, covariates: list[str]) -> list[str]:
    """Model terms of ``covariates``: one per binary / continuous variable, one per non-reference level."""
    out = []
    for name in covariates:
        lv = variable_levels(spec, name)
        out += [f"{name}:{level}" for level in lv[1:]] if lv else [name]
    return out


def item_plan(ref: str, quantity: str, mapping: ItemMap, spec: Spec, time: float | None = None) -> ItemPlan:
    """How one printed item of ``quantity`` is re-derived under ``spec``, checked as ``load`` checks
    it (``SpecError`` naming the fix); ``time``: the landmark time in the spec's unit. For a
    generator that computes printed numbers from the plan before a ledger exists."""

    def fail(field: str, problem: str, fix: str) -> None:
        raise SpecError(f"{spec.paper}: {field}: {problem}. Fix: {fix}")

    return _item_plan(ref, SimpleNamespace(quantity=quantity, time=time), mapping, spec, fail)


def _item_plan(ref: str, row, m: ItemMap, spec: Spec, fail) -> ItemPlan:
    q = row.quantity
    where = f"items.{ref}"
    if q not in SUPPORTED:
        fail(where, f"a {q} item cannot be re-derived from a spec", "remove it from items (its row shows as not-rederived)")
    ep = spec.endpoints.get(m.endpoint) if m.endpoint else None
    is_time, is_binary = isinstance(ep, TimeEndpoint), isinstance(ep, BinaryEndpoint)
    need_time = "name a time endpoint: `endpoint: <name>`"
    if m.endpoint and m.covariate:
        fail(where, "names both an endpoint and a covariate", "keep one")
    if q in ("count", "percent") and not (m.endpoint or m.covariate):
        fail(where, f"a {q} needs what is counted", "add `endpoint: <binary or time endpoint>` or `covariate: <name>`")
    if q in ("count", "percent") and m.covariate:
        lv = variable_levels(spec, m.covariate)
        if is_continuous(spec, m.covariate):
            fail(where, f"cannot count a continuous covariate ({m.covariate})", "count a binary or categorical covariate")
        if lv and m.level not in lv:
            fail(where, f"`level:` must name one of {', '.join(lv)}", f"add `level: {lv[-1]}` (the level counted)")
    if q == "median" and not (is_time or (m.covariate and is_continuous(spec, m.covariate))):
        fail(where, "a median needs a time endpoint or a continuous covariate", need_time)
    if q in ("landmark_survival", "landmark_event", "followup") and not is_time:
        fail(where, f"a {q} needs a time endpoint", need_time)
    time = None
    if q in ("landmark_survival", "landmark_event"):
        if row.time is None:
            fail(where, "the ledger item has no `time`", "add the landmark time to the ledger item (`time:`)")
        time = row.time * TIME_UNITS[m.time_unit or spec.time_unit] / TIME_UNITS[spec.time_unit]
    test = m.test
    if q in ("HR", "OR"):
        if not m.covariates:
            fail(where, f"an {q} needs the model's `covariates: [...]`", "list the covariates (one: univariable)")
        if q == "HR" and not is_time:
            fail(where, "an HR needs a time endpoint", need_time)
        if q == "OR" and not is_binary:
            fail(where, "an OR needs a binary endpoint", "name a binary endpoint: `endpoint: <name>`")
        if q == "HR" and test not in (None, "cox_wald", "logrank"):
            fail(where, f"the P of an HR comes from `cox_wald` or `logrank`, not {test}", "change `test:`")
        if q == "OR" and test not in (None, "fisher", "chi2"):
            fail(where, f"the P of an OR comes from its Wald test, `fisher` or `chi2`, not {test}", "change `test:`")
        test = test or ("cox_wald" if q == "HR" else "wald")
        if test in ("logrank", "fisher", "chi2") and len(m.covariates) != 1:
            fail(where, f"a {test} P goes with a univariable ratio", "give one covariate, or drop `test:` for the Wald P")
    if q == "P":
        test = test or (("cox_wald" if is_time else "wald") if m.covariates else "logrank" if m.by else None)
        if test is None:
            fail(where, "a P needs its `test:` (logrank, cox_wald, wald, fisher, chi2)", "name the test the paper used")
        if test == "wald" and not (is_binary and m.covariates):
            fail(where, "a Wald P (logistic) needs a binary endpoint and `covariates: [...]`", "name them, or another test")
        if test in ("logrank", "cox_wald") and not is_time:
            fail(where, f"a {test} test needs a time endpoint", need_time)
        if test in ("fisher", "chi2") and not is_binary:
            fail(where, f"a {test} test needs a binary endpoint", "name a binary endpoint: `endpoint: <name>`")
        if test == "cox_wald" and not m.covariates:
            fail(where, "a Cox Wald P needs `covariates: [...]`", "list the model's covariates")
        if test in ("logrank", "fisher", "chi2") and not m.by:
            fail(where, f"a {test} test compares groups", "add `by: <variable>`")
    if test == "fisher":
        by = m.by or m.covariates[0]
        if len(variable_levels(spec, by) or [0, 1]) != 2 or is_continuous(spec, by):
            fail(where, "Fisher's exact test here is 2 x 2", "compare by a binary variable, or use `test: chi2`")
    if m.covariates:
        names = terms(spec, m.covariates)
        term = m.term or names[0]
        if term not in names:
            fail(where, f"`term: {term}` is not a model term ({', '.join(names)})", "name one of those terms")
        if m.term is None and variable_levels(spec, m.covariates[0]) and len(variable_levels(spec, m.covariates[0])) > 2:
            fail(where, f"{m.covariates[0]} has several levels", f"say which ratio: `term: {names[0]}`")
    if m.by and is_continuous(spec, m.by):
        fail(where, f"`by: {m.by}` is continuous", "group by a binary or categorical variable")
    return ItemPlan(ref, q, m, time, test)
