"""The paper contract, and one driver that runs any paper through it.

Every paper package ``helpers/<paper>/`` has the same core modules with the same roles:

- ``settings.py``: ``INPUTS`` (printed counts the simulator takes as given), ``design()`` (those
  numbers read from the ledger) and ``load(overrides=None, calibrated=None, n_multiplier=1)``
  returning a ``helpers.settings.Settings``;
- ``model.py``: ``simulate(rng, settings) -> cohort`` (all randomness from ``rng``);
- ``calibration.py`` (when something is fitted): ``TARGETS`` (ledger items fitted), ``FREE``
  (parameters fitted), ``SETTINGS`` and ``calibrate(settings=None, start=None) -> dict`` with
  ``params``, ``targets`` (reported, fitted, residual each), ``objective`` and ``converged``;
- ``analysis.py``: ``rederive(cohort, settings, rng) -> results rows`` (one cohort, with the
  reference libraries: lifelines, statsmodels, scipy), ``analyse(cohorts, settings, include=None)
  -> draws`` (many cohorts, with the batched kernels of ``helpers.kernels``) and ``REASONS``
  (why a contradicted item misses: "model: ...", "assumption NAME: ...", "infeasible: ...");
- ``figures.py``: the paper's figures, drawn with ``helpers.figures``.

Roles are not typed anywhere: ``helpers.provenance`` computes them from ``INPUTS``, ``TARGETS`` and
the ``derived_from`` of each assumption. ``run`` below is all a notebook needs: one seeded cohort
re-derived with the reference libraries, same-size replicate studies through the kernels, and
the verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import audit, contract, ledger, replicate, results
from .settings import Settings

CORE_MODULES = ("settings", "model", "analysis", "figures")  # calibration.py only where something is fitted


class ContractError(ImportError):
    """A paper package lacks a module or a name the contract requires."""


def module(paper: str, name: str):
    """``helpers.<paper>.<name>`` (or the generic one of a spec paper, ``helpers.contract``), or an
    error naming what is missing and where it goes."""
    found = contract.module(paper, name)
    if found is None:
        raise ContractError(
            f"paper {paper!r} has no src/helpers/{paper}/{name}.py (nor data/specs/{paper}.yaml); every "
            f"paper package has {', '.join(CORE_MODULES)} (see README, 'How to add a paper')"
        )
    return found


def has_calibration(paper: str) -> bool:
    return contract.module(paper, "calibration") is not None


def load_settings(paper: str, overrides: Mapping[str, Any] | None = None,
                  calibrated: Mapping[str, Any] | None = None, n_multiplier: int = 1) -> Settings:  # fmt: skip
    """The paper's settings (``settings.load``): design, assumptions with overrides, calibration."""
    return module(paper, "settings").load(overrides=overrides, calibrated=calibrated, n_multiplier=n_multiplier)


def reasons(paper: str) -> dict[str, str]:
    """Why a contradicted item misses: the paper's ``REASONS``, else the audit's arithmetic finding."""
    printed_by = contract.paper_of(paper)  # a spec variant's items are its paper's
    found = audit.findings(audit.audit([printed_by]), printed_by)
    out = {f"{r.claim_id}/{r.item}": f"infeasible: the audit's {r.check} check fails ({r.detail})"
           for r in found.itertuples()}  # fmt: skip
    out.update(getattr(module(paper, "analysis"), "REASONS", {}))
    return out


@dataclass
class Run:
    """One paper run: the settings, the seeded cohort, the replicate draws and the results table."""

    settings: Settings
    cohort: Any
    draws: pd.DataFrame
    table: pd.DataFrame


def run(paper: str, *, seed: int, replicates: int, rng: np.random.Generator,
        claims: Iterable[str] | None = None, settings: Settings | None = None,
        save_as: str | None = None, n_jobs: int | None = 1, chunk: int | None = None) -> Run:  # fmt: skip
    """Simulate and re-derive one cohort (``rng``), then ``replicates`` same-size studies (spawned
    from ``seed``, independent of ``rng``'s stream), and judge every printed number.

    ``paper``: a paper, or a spec variant's model key (``descart.survival``: the paper's printed
    numbers re-derived by the variant's spec, with the variant's roles; ``helpers.contract``).
    ``claims``: only these claim IDs (default: all of the paper's). ``save_as``: the results
    table goes to ``reports/tables/results/<save_as>.csv`` for the scorecard (not for a variant:
    the scorecard holds each printed number once).
    """
    s = settings if settings is not None else load_settings(paper)
    model, analysis = module(paper, "model"), module(paper, "analysis")
    wanted = set(claims) if claims is not None else set(ledger.claims_index()[contract.paper_of(paper)])
    cohort = model.simulate(rng, s)
    rows = analysis.rederive(cohort, s, rng, include=sorted(wanted))
    rows = rows[rows.claim_id.isin(wanted)].reset_index(drop=True)

    def simulate(r: np.random.Generator):
        return model.simulate(r, s)

    def analyse(cohorts):
        return analysis.analyse(cohorts, s, include=sorted(wanted))

    extra = {} if chunk is None else {"chunk": chunk}
    draws = replicate.run(simulate, analyse, seed=seed, replicates=replicates, n_jobs=n_jobs,
                          desc=f"{paper} replicates", **extra)  # fmt: skip
    table = results.finalise(replicate.summarise(draws, rows), reasons=reasons(paper))
    if settings is None or settings == load_settings(paper):  # the committed model: its posterior's
        from . import conditional  # conditional bands beside today's (moved assumptions: none)

        table = conditional.attach(paper, table)
    if save_as:
        results.save(table, save_as)
    return Run(s, cohort, draws, table)
