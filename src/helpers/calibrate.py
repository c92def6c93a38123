"""Calibration by simulated moments, shared by the papers, and its command line.

Each paper module ``helpers.<paper>.calibration`` exposes ``calibrate() -> dict`` returning
``{"params": {...}, "targets": [{"claim_id", "item", "reported", "fitted", "weight",
"residual"}...], "objective": float, "settings": {...}}``. ``python -m helpers.calibrate <paper>``
(``make calibrate``) writes it to ``data/calibrated/<paper>.json``; ``load(paper)`` reads the
committed file and refuses one that is missing or was produced by other settings.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from . import contract, ledger, paths, posterior
from .io import write_json_atomic

# papers (and spec variants, <paper>.<variant>: helpers.contract) with a calibration
CALIBRATED_PAPERS = tuple(p for p in ledger.PAPERS + contract.variants() if contract.declares(p, "calibration"))


class CalibrationError(RuntimeError):
    """The committed calibration is missing, malformed or stale."""


def _module(paper: str):
    path_of(paper)  # an unknown paper: the error names the known ones
    return contract.module(paper, "calibration")


def path_of(paper: str):
    if paper not in CALIBRATED_PAPERS and paper not in paths.OUTSIDE:
        raise CalibrationError(f"unknown paper {paper!r}; choose one of {', '.join(CALIBRATED_PAPERS)}")
    return paths.paper_file("calibrated", paper)


def load(paper: str) -> dict[str, Any]:
    """The committed calibration of ``paper`` (fitted parameters, targets and residuals)."""
    path = path_of(paper)
    if not path.exists():
        raise CalibrationError(f"{path} is missing: run `make calibrate` (or restore it from git)")
    try:
        fit = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{path} is not valid JSON ({exc}); run `make calibrate`") from exc
    for key in ("params", "targets", "settings"):
        if key not in fit:
            raise CalibrationError(f"{path} lacks {key!r}; run `make calibrate` to rewrite it")
    settings = getattr(_module(paper), "SETTINGS", None)
    if settings is not None and fit["settings"] != json.loads(json.dumps(settings)):
        raise CalibrationError(
            f"{path} was fitted with other settings than helpers.{paper}.calibration.SETTINGS "
            "(stale): run `make calibrate` and commit the result"
        )
    return fit


def run(paper: str) -> dict[str, Any]:
    fit = _module(paper).calibrate()
    write_json_atomic(fit, path_of(paper))
    return fit


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m helpers.calibrate",
                                 description="Refit each paper's calibration, then its posterior given the printed targets "
                                             "(helpers.posterior, helpers.conditional).")  # fmt: skip
    ap.add_argument("papers", nargs="*", help="papers (default: all)")
    ap.add_argument("--fits-only", action="store_true", help="the point fits only, no posterior")
    ap.add_argument("--posterior-only", action="store_true", help="the posteriors only (from the committed fits)")
    ap.add_argument("--backend", choices=list(posterior.BACKENDS), default="batched",
                    help="where the posterior's simulations run: batched (cohorts in batches over --workers local "
                         "processes; reproducible), single (pyabc's one-process sampler; the same result), processes "
                         "(pyabc's multicore sampler) or dask (pyabc's own Dask sampler; DASK_SCHEDULER_ADDRESS or a "
                         "local cluster); the last two give another Monte Carlo draw on every run")  # fmt: skip
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv if argv is not None else sys.argv[1:])
    papers = CALIBRATED_PAPERS if not args.papers or args.papers == ["all"] else args.papers
    for paper in papers:
        if contract.module(paper, "calibration") is None:
            print(f"{paper}: no calibration module yet, skipped")
            continue
        if not args.posterior_only:
            fit = run(paper)
            print(f"{paper}: objective {fit.get('objective', float('nan')):.4g} -> {path_of(paper)}")
    if not args.fits_only:
        from . import conditional

        # a spec variant (descart.survival) re-expresses a registered paper: its held-out numbers
        # are the paper's, whose posterior is the one that conditions them
        variants = [p for p in papers if p not in ledger.PAPERS]
        for paper in variants:
            print(f"{paper}: a variant of a registered paper, no posterior of its own")
        with conditional.cluster(args.backend, args.workers) as client:
            conditional.run([p for p in papers if p not in variants and conditional.has_targets(p)],
                            backend=args.backend, workers=args.workers, client=client)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
