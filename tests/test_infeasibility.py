"""Numbers that cannot all be true (helpers.infeasibility) on a toy whose conflict is known.

Toy: the model's item A is the mean of x ~ N(c, 1) and item B is that mean plus 0.5; one free
parameter c is fitted to the printed A = 0.5 and B = 2.0, each with SE 0.1. They cannot both
hold (B - A must be 0.5, printed 1.5): dropping either, the refit predicts it 10 SE away, and a
third target C = mean - 0.2 printed consistently with B shows which one A pulls against.
"""

import types

import numpy as np
import pandas as pd
import pytest

from helpers import infeasibility, ledger, study
from helpers.settings import Settings

PRINTED = {"FIG-06/a": 0.5, "FIG-07/b": 2.0, "FIG-08/c": 1.3}
OFFSET = {"FIG-06/a": 0.0, "FIG-07/b": 0.5, "FIG-08/c": -0.2}
SE = 0.1


def _calibrate(settings=None, start=None, targets=None):
    targets = targets or list(PRINTED)
    # least squares in c with equal SEs: c = mean of (printed - offset)
    c = float(np.mean([PRINTED[t] - OFFSET[t] for t in targets]))
    res = [{"claim_id": t.split("/")[0], "item": t.split("/")[1], "residual": (c + OFFSET[t] - PRINTED[t]) / SE}
           for t in targets]  # fmt: skip
    return {"params": {"c": c}, "targets": res, "objective": sum(r["residual"] ** 2 for r in res), "converged": True}


def _simulate(rng, s):
    return {"x": rng.normal(s["c"], 1.0, 1000 * s.n_multiplier)}


def _analyse(cohorts, s, include=None):
    m = np.array([c["x"].mean() for c in cohorts])
    return pd.concat([pd.DataFrame({"rep": range(len(m)), "claim_id": t.split("/")[0], "item": t.split("/")[1],
                                    "estimate": m + OFFSET[t], "p": np.nan}) for t in PRINTED])  # fmt: skip


@pytest.fixture
def toy(monkeypatch):
    mods = {"model": types.SimpleNamespace(simulate=_simulate),
            "analysis": types.SimpleNamespace(analyse=_analyse),
            "calibration": types.SimpleNamespace(calibrate=_calibrate, TARGETS=list(PRINTED))}
    monkeypatch.setenv("CART_WORKERS", "1")  # the refits in this process: the patches below live only here
    monkeypatch.setattr(study, "module", lambda paper, name: mods[name])
    monkeypatch.setattr(study, "load_settings", lambda paper, **kw: Settings("figura", {}, {"c": 1.0}, {}, 1))
    monkeypatch.setattr(ledger, "lookup", lambda paper, ref: pd.Series(
        {"quantity": "difference", "value": PRINTED[ref], "lo": PRINTED[ref] - 1.959964 * SE,
         "hi": PRINTED[ref] + 1.959964 * SE, "n": None, "count": None, "p": None}))  # fmt: skip
    return "figura"


def test_the_dropped_number_is_predicted_many_ses_away(toy):
    out = infeasibility.model_conflicts(toy).set_index("numbers")
    # without A, c fits B and C (c = 1.5): A predicted at 1.5, 10 SE above the printed 0.5
    assert out.loc["FIG-06/a", "conflict_se"] == pytest.approx(10.0, abs=0.5)  # simulation noise of 20,000 draws
    assert out.loc["FIG-06/a", "pulls_against"] in ("FIG-07/b", "FIG-08/c")
    assert out.loc["FIG-06/a", "improvement"] > 0
    assert "SE from what was printed" in out.loc["FIG-06/a", "explanation"]
    # pairs of the worst are dropped together too
    assert any(" + " in n for n in out.index)


def test_consistent_numbers_are_said_to_be_consistent(toy, monkeypatch):
    # printed as the model says they must be: B - A = 0.5 and A - C = 0.2 (within noise)
    monkeypatch.setitem(globals(), "PRINTED", {"FIG-06/a": 1.5, "FIG-07/b": 2.0, "FIG-08/c": 1.3})
    out = infeasibility.model_conflicts(toy)
    assert (out.conflict_se.abs() < infeasibility.CONFLICT_SE).all()
    assert out.explanation.str.startswith("consistent").all()


def test_an_exactly_identified_fit_draws_no_conclusion(toy, monkeypatch):
    """As many free parameters as targets: dropping one leaves a parameter free, so the others
    cannot predict it; no conflict size is claimed (not even for the printed conflict above)."""
    calibration = study.module(toy, "calibration")
    monkeypatch.setattr(calibration, "FREE", ("c", "d", "e"), raising=False)
    out = infeasibility.model_conflicts(toy)
    assert out.conflict_se.isna().all()
    assert out.explanation.str.startswith("no conclusion").all()
    assert not any(" + " in n for n in out.numbers)  # no pairs of the 'worst' without a judgement


def test_conflict_is_measured_from_the_printed_rounding(monkeypatch):
    """A per-unit HR printed 1.01 (1.01-1.02): from the CI alone its log SE would be 0.0025 and a
    prediction of 1.02 would sit 3.9 SE away; rounding-aware, the CI may be as wide as
    1.005-1.025 and 1.02 is 0.98 SE beyond 1.015, the largest value printed as 1.01."""
    rec = pd.Series({"quantity": "HR", "printed": "1.01", "value": 1.01, "lo_printed": "1.01", "lo": 1.01,
                     "hi_printed": "1.02", "hi": 1.02, "p_printed": ".0002", "p": 0.0002, "n": None, "count": None})
    monkeypatch.setattr(ledger, "lookup", lambda paper, ref: rec)
    se = (np.log(1.025) - np.log(1.005)) / (2 * 1.959964)
    assert infeasibility.conflict("descart", "DES-16/x", 1.02) == pytest.approx(np.log(1.02 / 1.015) / se)
    assert infeasibility.conflict("descart", "DES-16/x", 1.012) == 0.0  # would itself print as 1.01
    assert infeasibility.conflict("descart", "DES-16/x", 1.0) < 0  # below: a signed size
