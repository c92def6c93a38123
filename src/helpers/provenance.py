"""Roles from provenance: which printed numbers the model was built from, computed, never typed.

Every use of a printed number is declared where it happens:

- ``helpers.<paper>.settings.INPUTS``: printed counts and sizes the simulator takes as given
  (a claim ID stands for all its items);
- ``helpers.<paper>.calibration.TARGETS``: the numbers the calibration fits;
- ``derived_from`` of each entry in ``data/assumed/<paper>.yaml``: the numbers an assumed value
  was worked out from (a unit back-calculated from a printed HR, a shape from two landmarks).

An item's role follows: ``input``; ``calibrated`` (a target, or used to derive an assumption);
otherwise ``held-out``. A number printed again as the same quantity inherits the role of the
number it repeats: items linked by ``same_as``, by a ``same_quantity`` relation, or printed with
the identical value and CI as the same kind of quantity. ``used_by`` says why, in words.

Every function takes a model key: a paper, or a spec variant ``<paper>.<variant>``
(``helpers.contract``), whose roles come from the variant's own spec and assumptions while the
items are its paper's.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

from . import assumptions, audit, contract, ledger, paths


class ProvenanceError(ValueError):
    """A declared use names a printed number that is not in the ledger."""


def _module(paper: str, name: str):
    return contract.module(paper, name)  # None: the paper has no such module (yet)


def declared_uses(paper: str) -> list[tuple[str, str, str]]:
    """(ref or claim ID, role, used by) for every declared use of a printed number."""
    out = []
    settings = _module(paper, "settings") or _module(paper, "model")  # the contract: settings.INPUTS
    for ref in getattr(settings, "INPUTS", ()) if settings else ():
        out.append((ref, "input", "simulator input"))
    calibration = _module(paper, "calibration")
    for ref in getattr(calibration, "TARGETS", ()) if calibration else ():
        out.append((ref, "calibrated", "calibration target"))
    if paths.paper_file("assumed", paper).exists():  # a variant's own file, data/assumed/<paper>.<variant>.yaml
        for name, entry in assumptions.entries(paper).items():
            for ref in entry.derived_from:
                out.append((ref, "calibrated", f"sets assumption {name}"))
    return out


def _refs_of(paper: str, frame) -> dict[str, list[str]]:
    by_claim = defaultdict(list)
    for claim_id, item in zip(frame.claim_id, frame["item"], strict=True):
        by_claim[claim_id].append(f"{claim_id}/{item}")
    return by_claim


def _links(paper: str) -> dict[str, set[str]]:
    """Items that are one number printed more than once (both directions)."""
    links: dict[str, set[str]] = defaultdict(set)

    def link(a: str, b: str) -> None:
        links[a].add(b)
        links[b].add(a)

    led = ledger.load_paper(paper)
    for claim in led.claims:
        for it in claim.items:
            if it.same_as:
                link(f"{claim.claim_id}/{it.item}", it.same_as)
    for rel in led.relations:
        if rel.kind == "same_quantity":
            for a in rel.items:
                for b in rel.items:
                    if a != b:
                        link(a, b)
    # the identical estimate and CI printed twice as the same kind of quantity (a malformed token
    # matches its look-alike by digits, as in the audit: "4.0.6" and "4.06")
    with_ci = [(f"{c.claim_id}/{i.item}", i) for c in led.claims for i in c.items
               if i.value is not None and i.lo is not None and i.hi is not None]  # fmt: skip
    for a, ia in with_ci:
        for b, ib in with_ci:
            if a != b and ia.quantity == ib.quantity and all(
                audit.same_print(getattr(ia, f), getattr(ib, f)) for f in ("value", "lo", "hi")
            ):
                link(a, b)
    return links


@cache
def _roles(key: str, stamp: tuple) -> dict[str, tuple[str, str]]:
    paper = contract.paper_of(key)
    frame = ledger.frame(paper)
    by_claim = _refs_of(paper, frame)
    known = {r for refs in by_claim.values() for r in refs}
    direct: dict[str, tuple[str, str]] = {}
    prefix = ledger.prefix(paper)
    for ref, role, by in declared_uses(key):
        if not ref.startswith(prefix + "-"):
            continue  # an external number (e.g. a published rate from another study)
        expanded = by_claim.get(ref, [ref]) if "/" not in ref else [ref]
        for r in expanded:
            if r not in known:
                raise ProvenanceError(f"{paper}: {by} names {ref}, which is not an item of data/reported/{paper}.yaml")
            old = direct.get(r)
            if old is None or (old[0] != "input" and role == "input"):  # input wins: fed in as printed
                direct[r] = (role, by if old is None else f"{by}; {old[1]}")
            elif by not in old[1]:
                direct[r] = (old[0], f"{old[1]}; {by}")
    out = dict(direct)
    links = _links(paper)
    frontier = list(direct)
    while frontier:  # a repeat of a used number inherits its role (transitively)
        ref = frontier.pop()
        for other in links.get(ref, ()):
            if other not in out:
                out[other] = (out[ref][0], f"same number as {ref} ({out[ref][1]})")
                frontier.append(other)
    for ref in known:
        out.setdefault(ref, ("held-out", ""))
    return out


def _stamp(key: str) -> tuple:
    """The files a model's roles are read from, and when each last changed (the spec too: its
    inputs and targets are declared uses)."""
    files = [paths.paper_file("reported", contract.paper_of(key)), paths.paper_file("assumed", key),
             contract.spec_file(key)]
    return tuple((str(f), f.stat().st_mtime_ns if f.exists() else 0) for f in files)


def roles(paper: str) -> dict[str, tuple[str, str]]:
    """Every ledger item of ``paper``: "CLAIM-ID/item" -> (role, used by)."""
    return _roles(paper, _stamp(paper))


def role_of(paper: str, ref: str) -> tuple[str, str]:
    """(role, used by) of one ledger item; a ref outside the ledger is held-out with no use."""
    return roles(paper).get(ref, ("held-out", ""))


def used_refs(paper: str) -> set[str]:
    """Every ledger item some declaration uses, directly or as a repeat (never held-out)."""
    return {ref for ref, (role, _) in roles(paper).items() if role != "held-out"}


def role_table(paper: str):
    """Roles as a table (for notebooks): ref, role, used by."""
    import pandas as pd

    rows = [{"ref": ref, "role": role, "used_by": by} for ref, (role, by) in sorted(roles(paper).items())]
    return pd.DataFrame(rows).set_index("ref")
