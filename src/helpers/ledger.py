"""The ledger: every number of every claim, as printed, loaded through one schema.

One YAML file per paper under ``data/reported/`` (see ``data/reported/README.md`` for the
format). Scalars are read as strings (YAML ``BaseLoader``) so that "2.60" keeps its trailing
zero; ``helpers.tokens`` parses them. ``data/reported/claims_index.yaml`` lists every claim ID
the project must cover; a paper file that misses one, repeats one or adds an unknown one is
refused with a message naming the file, the claim and the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import paths, tokens

# libyaml's C loader when present (10x faster, same result: every scalar a string)
STRING_LOADER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


def _registry() -> tuple[tuple[str, ...], dict[str, str]]:
    """Papers and their claim-ID prefixes, in the order of ``claims_index.yaml`` (the one registry)."""
    path = paths.REPORTED / "claims_index.yaml"
    try:
        index = yaml.load(path.read_text(encoding="utf-8"), Loader=STRING_LOADER)
        prefixes = {paper: claims[0]["claim_id"].split("-")[0] for paper, claims in index.items()}
    except (OSError, yaml.YAMLError, AttributeError, KeyError, IndexError, TypeError) as exc:
        raise LedgerError(f"{path}: cannot read the list of papers and claims ({exc}); restore it from git") from None
    return tuple(prefixes), prefixes


class LedgerError(ValueError):
    """A reported-parameter file is missing or malformed; the message names file, claim, field."""


PAPERS, PREFIX = _registry()

Quantity = Literal[
    "count",  # a number of patients, lesions, events
    "n",  # a sample or cohort size
    "percent",  # a percentage (0-100), with its count and denominator where printed
    "median",  # a Kaplan-Meier or sample median (months unless ``unit`` says otherwise)
    "followup",  # median follow-up
    "range",  # minimum-maximum of a sample (value = lo-hi midpoint not used; lo, hi given)
    "landmark_survival",  # % event-free at ``time``
    "landmark_event",  # % with the event by ``time``
    "HR",
    "OR",
    "P",
    "fold_change",
    "correlation",
    "qualitative",  # a direction or association with no number
]
RATIO_QUANTITIES = {"HR", "OR", "fold_change"}


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item: str = Field(pattern=r"^[a-z0-9_]+$")
    quantity: Quantity
    where: str = Field(min_length=3)  # abstract, section, table or figure
    value: str | None = None
    lo: str | None = None
    hi: str | None = None
    p: str | None = None
    n: str | None = None  # denominator or group size, as printed (or as stated in the text)
    count: str | None = None  # numerator of a percentage, as printed
    time: str | None = None  # landmark time
    unit: str | None = None  # months, days, %, per unit of ...
    group: str | None = None  # subgroup the number belongs to
    direction: str | None = None  # for qualitative items: the claimed direction
    significant: Literal["yes"] | None = None  # qualitative: the source calls it significant (no P printed)
    same_as: str | None = None  # "CLAIM-ID/item" printed elsewhere for the same quantity
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Item:
        if self.quantity != "qualitative" and self.value is None and self.p is None:
            raise ValueError("a numeric item needs `value` (or `p` for a bare P value)")
        if self.quantity == "qualitative" and not self.direction:
            raise ValueError("a qualitative item needs `direction`")
        lo, hi = tokens.value_of(self.lo), tokens.value_of(self.hi)
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(
                f"CI lower bound {self.lo!r} exceeds upper bound {self.hi!r}; "
                "swap them if this is a data-entry slip, or add a `note` and enter the bound as printed in `value`"
            )
        return self


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    claim_id: str = Field(pattern=r"^[A-Z]+-\d{2}$")
    claim: str = Field(min_length=3)
    items: list[Item] = Field(min_length=1)

    @field_validator("items")
    @classmethod
    def _unique_items(cls, items: list[Item]) -> list[Item]:
        seen = [i.item for i in items]
        dup = sorted({s for s in seen if seen.count(s) > 1})
        if dup:
            raise ValueError(f"item slugs repeated: {', '.join(dup)}")
        return items


class Relation(BaseModel):
    """A relation between printed numbers that the audit checks (see ``helpers.audit``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sum", "subset", "pooled_median", "landmark_median", "same_quantity"]
    items: list[str] = Field(min_length=1)  # "CLAIM-ID/item" references
    total: str | None = None  # for sum and subset: the whole
    note: str | None = None


# What kind of text a paper's numbers were read from, and what that limits (shown beside every
# verdict of the paper: report, journal-club sheet, README).
SOURCE_KINDS: dict[str, tuple[str, str]] = {
    "full-text": ("full text",
                  "tables, methods and confidence intervals can be checked against each other; what the "
                  "paper does not report (patient-level data, some denominators, unstated analysis "
                  "choices) is assumed"),
    "abstract": ("abstract only",
                 "a few headline numbers without tables or methods: group sizes, tests and follow-up are "
                 "assumptions, so a check tests those assumptions as much as the paper"),
    "news-and-commentary": ("news report and commentary, not the paper",
                            "no subset sizes, no test named, and numbers that may have been rounded for the "
                            "press (\"10 times\", \"<40%\"); most claims are directions without a number, "
                            "and sizes, tests and effects are assumptions"),
    "review": ("review, no data of its own",
               "every claim is qualitative; the model is built from the external studies the review "
               "cites (data/assumed/), so it tests whether the claims hang together, not new data"),
}  # fmt: skip
SourceKind = Literal["full-text", "abstract", "news-and-commentary", "review"]


class PaperLedger(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    paper: str
    label: str = ""  # short name for tables and the report, e.g. "Jain et al. 2021"
    citation: str
    doi: str
    source: str  # which text the numbers were read from
    # its kind (SOURCE_KINDS): says how much a reader can expect; a paper without it shows "not stated"
    # (tests/test_report.py asks every registered paper to state it)
    source_kind: SourceKind | None = None
    notebooks: list[str] = []  # notebooks that re-derive this paper (their figures go with it)
    claims: list[Claim]
    relations: list[Relation] = []


def _yaml(path: Path) -> dict:
    if not path.exists():
        raise LedgerError(
            f"{path}: file not found. A new paper? Create it (format: data/reported/README.md). "
            f"A deleted one? Restore it: `git checkout -- {path.relative_to(paths.PROJ_ROOT) if path.is_relative_to(paths.PROJ_ROOT) else path}`."
        )
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=STRING_LOADER)  # every scalar stays a string
    except yaml.YAMLError as exc:
        raise LedgerError(f"{path}: not valid YAML ({exc}). Fix the syntax at the line shown.") from exc
    if not isinstance(data, dict):
        raise LedgerError(f"{path}: expected a mapping with keys paper, citation, doi, source, claims")
    return data


def _locate(data: dict, loc: tuple) -> str:
    """Turn a pydantic error location into 'claim DES-15, item pfs2_hr_ldh, field hi'."""
    parts, node = [], data
    for key in loc:
        if isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
            if isinstance(node, dict) and "claim_id" in node:
                parts.append(f"claim {node['claim_id']}")
            elif isinstance(node, dict) and "item" in node:
                parts.append(f"item {node['item']}")
            else:
                parts.append(f"entry {key + 1}")
        elif isinstance(node, dict) and key in node:
            node = node[key]
            if key not in ("claims", "items", "relations"):
                parts.append(f"field {key}")
        else:
            parts.append(f"field {key}")
    return ", ".join(parts) or "top level"


def claims_index() -> dict[str, list[str]]:
    """Claim IDs the project must cover, per paper (a project copy of the claims list)."""
    data = _yaml(paths.REPORTED / "claims_index.yaml")
    return {paper: [c["claim_id"] for c in data[paper]] for paper in PAPERS}


def claim_texts() -> dict[str, str]:
    data = _yaml(paths.REPORTED / "claims_index.yaml")
    return {c["claim_id"]: c["claim"] for paper in PAPERS for c in data[paper]}


def is_paper(paper: str) -> bool:
    """A paper of the project (claims_index.yaml) or one registered from outside (``outside``)."""
    return paper in PAPERS or paper in paths.OUTSIDE


@contextmanager
def outside(paper: str, folder: Path) -> Iterator[str]:
    """Run ``paper`` from ``folder`` (ledger.yaml, assumed.yaml, spec.yaml; ``paths.OUTSIDE``)
    inside the block: a generated study that is not a paper of the project. Process-local, so a
    worker process registers it itself. Its claim-ID prefix must differ from every project paper's."""
    if paper in PAPERS:
        raise LedgerError(f"{paper!r} is a paper of the project; give the outside study another name")
    if not (Path(folder) / paths.OUTSIDE_FILES["reported"]).exists():
        raise LedgerError(f"{folder}: no {paths.OUTSIDE_FILES['reported']}; write the study's files first")
    previous = paths.OUTSIDE.get(paper)
    paths.OUTSIDE[paper] = Path(folder)
    clear_caches()
    try:
        pre = prefix(paper)
        if pre in PREFIX.values() or any(prefix(p) == pre for p in paths.OUTSIDE if p != paper):
            raise LedgerError(f"{paper}: claim-ID prefix {pre} is taken by another paper; choose another")
        yield paper
    finally:
        if previous is None:
            paths.OUTSIDE.pop(paper, None)
        else:
            paths.OUTSIDE[paper] = previous
        clear_caches()


def prefix(paper: str) -> str:
    """The claim-ID prefix of a paper (an outside one's from its first claim)."""
    if paper in PREFIX:
        return PREFIX[paper]
    return load_paper(paper).claims[0].claim_id.split("-")[0]


def paper_of(claim_id: str) -> str | None:
    """The paper whose claim IDs start like ``claim_id`` (project papers, then outside ones)."""
    pre = claim_id.split("-")[0]
    for paper in (*PAPERS, *paths.OUTSIDE):
        if prefix(paper) == pre:
            return paper
    return None


def load_paper(paper: str, path: Path | None = None) -> PaperLedger:
    """Load and validate one paper's ledger; raise ``LedgerError`` naming what is wrong."""
    if not is_paper(paper):
        raise LedgerError(f"unknown paper {paper!r}; choose one of {', '.join(PAPERS)}")
    path = path or paths.paper_file("reported", paper)
    data = _yaml(path)
    try:
        ledger = PaperLedger.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise LedgerError(f"{path.name}: {_locate(data, err['loc'])}: {err['msg']}") from None
    ids = [c.claim_id for c in ledger.claims]
    # an outside study lists its own claims; a project paper's must match claims_index.yaml
    expected = claims_index()[paper] if paper in PAPERS else list(dict.fromkeys(ids))
    problems = []
    if dup := sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"claim {', '.join(dup)} entered twice; merge the entries")
    if missing := [i for i in expected if i not in ids]:
        problems.append(f"claim {', '.join(missing)} missing; add an entry for each claim in claims_index.yaml")
    if unknown := [i for i in ids if i not in expected]:
        problems.append(f"claim {', '.join(unknown)} not in claims_index.yaml; fix the ID or add it to the index")
    known = {f"{c.claim_id}/{i.item}" for c in ledger.claims for i in c.items}
    for rel in ledger.relations:
        for ref in [*rel.items, *([rel.total] if rel.total else [])]:
            if ref not in known:
                problems.append(f"relation {rel.kind} refers to {ref}, which is not an item of this file")
    for c in ledger.claims:
        for i in c.items:
            if i.same_as and i.same_as not in known:
                problems.append(f"claim {c.claim_id}, item {i.item}, field same_as: {i.same_as} is not an item")
    if problems:
        raise LedgerError(f"{path.name}: " + "; ".join(problems))
    return ledger


LEDGER_COLUMNS = [
    "paper", "claim_id", "item", "quantity", "printed", "value", "lo_printed", "lo", "hi_printed",
    "hi", "p_printed", "p", "p_relation", "n", "count", "time", "unit", "group", "direction",
    "significant", "same_as", "where", "malformed", "note",
]  # fmt: skip


def to_frame(ledger: PaperLedger) -> pd.DataFrame:
    """One row per item: printed tokens beside their parsed values (None where not numeric)."""
    return pd.DataFrame(_rows(ledger), columns=LEDGER_COLUMNS)


def _rows(ledger: PaperLedger) -> list[dict]:
    rows = []
    for claim in ledger.claims:
        for it in claim.items:
            p_tok = tokens.parse(it.p)
            bad = [
                f for f in ("value", "lo", "hi", "p", "n", "count")
                if (t := tokens.parse(getattr(it, f))) is not None and t.status == "malformed"
            ]  # fmt: skip
            rows.append({
                "paper": ledger.paper, "claim_id": claim.claim_id, "item": it.item,
                "quantity": it.quantity, "printed": it.value, "value": tokens.value_of(it.value),
                "lo_printed": it.lo, "lo": tokens.value_of(it.lo),
                "hi_printed": it.hi, "hi": tokens.value_of(it.hi),
                "p_printed": it.p, "p": tokens.value_of(it.p),
                "p_relation": p_tok.relation if p_tok is not None else None,
                "n": tokens.value_of(it.n), "count": tokens.value_of(it.count),
                "time": tokens.value_of(it.time), "unit": it.unit, "group": it.group,
                "direction": it.direction, "significant": it.significant, "same_as": it.same_as,
                "where": it.where, "malformed": ",".join(bad) or None, "note": it.note,
            })  # fmt: skip
    return rows


@cache
def _cached_frame(paper: str) -> pd.DataFrame:
    return to_frame(load_paper(paper))


def frame(paper: str) -> pd.DataFrame:
    """The validated ledger of one paper as a DataFrame (a copy; safe to modify)."""
    return _cached_frame(paper).copy()


def load_all() -> pd.DataFrame:
    """All four papers' ledgers, validated, in one DataFrame."""
    # built from records, not by concatenating frames, so dtypes come from all papers at once
    rows = [r for p in PAPERS for r in _rows(load_paper(p))]
    return pd.DataFrame(rows, columns=LEDGER_COLUMNS)


def lookup(paper: str, ref: str) -> pd.Series:
    """The ledger row of 'CLAIM-ID/item'."""
    row = _by_ref(paper).get(ref)
    if row is None:
        raise LedgerError(f"{paper}.yaml has no item {ref}")
    return row.copy()


def clear_caches() -> None:
    """Forget every ledger read so far (after a ledger file changed on disk)."""
    _cached_frame.cache_clear()
    _by_ref.cache_clear()


@cache
def _by_ref(paper: str) -> dict[str, pd.Series]:
    df = _cached_frame(paper)
    return {f"{c}/{i}": r for (c, i), (_, r) in zip(zip(df.claim_id, df["item"], strict=True), df.iterrows(), strict=True)}


def papers_frame() -> pd.DataFrame:
    """Every registered paper, in the registry's order: label, citation, DOI, what kind of source its
    numbers were read from, and how many claims and printed items it has."""
    rows = []
    for p in PAPERS:
        led = load_paper(p)
        rows.append({"paper": led.label or p, "citation": led.citation, "doi": led.doi,
                     "source": SOURCE_KINDS[led.source_kind][0] if led.source_kind else "not stated",
                     "claims": len(led.claims),
                     "items": sum(len(c.items) for c in led.claims)})  # fmt: skip
    return pd.DataFrame(rows).set_index("paper")
