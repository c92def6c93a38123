"""``make check-paper NAME=<paper>``: a spec paper's YAML checked, and what will happen to each printed
number, before anything is simulated.

The ledger, the assumptions and the spec are validated together (``plan.load``: a problem stops
here with the file, the field and the fix); then one line per printed number says its role
(``input``, ``calibrated`` or ``held-out``, from ``helpers.provenance``: never typed) and how the
spec re-derives it, or that it is left out (it will show as not-rederived); last, whether the
committed calibration is missing or stale. A spec variant's key (``descart.survival``) works too.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from .. import calibrate, contract, ledger, provenance
from .plan import load
from .schema import SpecError


def summary(key: str) -> pd.DataFrame:
    """One row per printed number: quantity, printed token, role, what used it, how it is re-derived."""
    plan = load(key)
    roles = provenance.roles(key)
    rows = []
    for r in ledger.frame(plan.paper).itertuples():
        ref = f"{r.claim_id}/{r.item}"
        item = plan.items.get(ref)
        if item is None:
            how = "left out of items: (not-rederived)"
        else:
            mapped = item.map.model_dump(exclude_defaults=True)
            how = ", ".join(f"{k}: {v}" for k, v in mapped.items()) or "the study size"
        role, used_by = roles.get(ref, ("held-out", ""))
        rows.append({"ref": ref, "quantity": r.quantity, "printed": r.printed or r.p_printed or "",
                     "role": role if item is not None or role != "held-out" else "descriptive",
                     "used by": used_by, "re-derived from": how})  # fmt: skip
    return pd.DataFrame(rows).set_index("ref")


def calibration_state(key: str) -> str:
    """Whether the spec's fit is committed and current, as one line with the command to run."""
    if not load(key).free:
        return "nothing to fit: the spec declares no free parameters"
    try:
        fit = calibrate.load(key)
    except calibrate.CalibrationError as exc:
        return f"calibration: {exc}. Run `.venv/bin/python -m helpers.calibrate {key}`"
    worst = max((abs(t["residual"]) for t in fit["targets"]), default=0.0)
    return f"calibration: committed and current (objective {fit['objective']:.3g}, largest residual {worst:.2f} SE)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.spec.check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("paper", help="a spec paper (e.g. zuma1) or a spec variant (e.g. descart.survival)")
    args = parser.parse_args(argv)
    if not contract.spec_file(args.paper).exists():
        print(f"error: {contract.spec_file(args.paper)} does not exist (`make new-paper NAME=...` writes one)", file=sys.stderr)
        return 2
    try:
        table = summary(args.paper)
        state = calibration_state(args.paper)
    except (SpecError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 70):
        print(table.to_string())
    counts = table.role.value_counts()
    print("\n" + ", ".join(f"{n} {role}" for role, n in counts.items()))
    print(state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
