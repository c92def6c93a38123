"""One results format: rows are built, validated, given a status and displayed the same way for every paper."""

import numpy as np
import pandas as pd
import pytest

from helpers import replicate, results
from helpers.results import ResultsError


def _row(**kw):
    base = dict(claim_id="FIG-06", item="or_large", quantity="OR", role="held-out", reported=2.34,
                reported_lo=1.55, reported_hi=3.55, rederived=2.1, rederived_lo=1.4, rederived_hi=3.2)
    base.update(kw)
    return results.row(**base)


def test_row_has_every_column_and_paper_from_prefix():
    r = _row()
    assert list(r) == results.RESULT_COLUMNS
    assert r["paper"] == "figura"


def test_unknown_role_and_prefix_are_refused():
    with pytest.raises(ResultsError, match="role"):
        _row(role="fitted")
    with pytest.raises(ResultsError, match="prefix"):
        _row(claim_id="XYZ-01")


def test_repeated_item_is_refused():
    with pytest.raises(ResultsError, match="repeated"):
        results.frame([_row(), _row()])


def test_status_follows_the_band():
    df = results.frame([_row(), _row(item="or_suv", reported=9.0)])
    # 200 replicates: with fewer, even a value beyond every replicate is within Monte Carlo error
    # of the 97.5% edge (verdicts.mc_margin) and only "borderline"
    draws = pd.DataFrame({
        "rep": np.tile(np.arange(200), 2), "claim_id": "FIG-06",
        "item": np.repeat(["or_large", "or_suv"], 200),
        "estimate": np.r_[np.linspace(1.5, 3.5, 200), np.linspace(1.5, 3.5, 200)],
        "lo": 1.2, "hi": np.r_[np.full(200, 4.0), np.full(200, 0.9)], "p": np.r_[np.full(200, 0.01), np.full(200, 0.2)],
    })  # fmt: skip
    out = results.finalise(replicate.summarise(draws, df), reasons={"FIG-06/or_suv": "model: demo"})
    # 2.34 sits inside the band and a null effect would have fallen outside it: supported;
    # 9.0 lies above every replicate: contradicted, with the declared reason
    assert list(out.status) == ["supported", "contradicted"]
    assert list(out.band_position) == ["inside", "above"]
    assert out.reason.tolist() == [None, "model: demo"]
    assert out.power.tolist() == [1.0, 0.0]
    assert out.ci_excludes_null.tolist() == [1.0, 1.0]  # lo 1.2 > 1, then hi 0.9 < 1


def test_qualitative_direction_is_judged_on_the_replicates_not_on_one_cohort():
    rows = [results.row("JAIN-08", "ifn_vs_expansion", "qualitative", "held-out", reported=-1, rederived=-0.3),
            results.row("JAIN-09", "ferritin", "qualitative", "held-out", reported=1, rederived=-0.1)]
    assert list(results.finalise(results.frame(rows)).status) == ["no-band", "no-band"]
    draws = pd.DataFrame({
        "rep": np.tile(np.arange(200), 2), "claim_id": np.repeat(["JAIN-08", "JAIN-09"], 200),
        "item": np.repeat(["ifn_vs_expansion", "ferritin"], 200),
        # every replicate shows the claimed negative sign; the second item is a coin toss
        "estimate": np.r_[np.full(200, -0.3), np.tile([-0.1, 0.1], 100)],
    })  # fmt: skip
    out = results.finalise(replicate.summarise(draws, results.frame(rows)))
    # a bare direction can be flagged only if no effect shows the other sign: half the time at most
    assert list(out.status) == ["uninformative", "uninformative"]
    assert out.check_power.tolist() == [0.5, 0.0]
    # claimed significant: under no effect only 2.5% of studies would show it, so the check is strong
    sig = results.frame([results.row("JAIN-08", "ifn_vs_expansion", "qualitative", "held-out", reported=-1,
                                     reported_p=0.05, rederived=-0.3)])  # fmt: skip
    draws_sig = draws[draws.claim_id == "JAIN-08"].assign(p=0.001)
    out = results.finalise(replicate.summarise(draws_sig, sig))
    assert out.status[0] == "supported" and out.check_power[0] == pytest.approx(0.975)


def test_no_band_and_not_rederived():
    out = results.finalise(results.frame([_row(), _row(item="x", rederived=None), _row(item="y", role="input")]))
    assert list(out.status) == ["no-band", "not-rederived", "input"]


def test_display_rounds_per_quantity():
    df = results.frame([_row(rederived=2.123456, reported_p=0.00001234), _row(item="n", quantity="count", reported=36, rederived=35.6)])
    shown = results.display(df)
    assert shown.loc[0, "rederived"] == "2.12"
    assert shown.loc[0, "reported_p"] == "<0.0001"
    assert shown.loc[1, "rederived"] == "36"


@pytest.mark.parametrize(("p", "text"), [(0.049, "0.049"), (0.0002, "0.0002"), (0.32, "0.320"), (1e-6, "<0.0001")])
def test_format_p(p, text):
    assert results.format_p(p) == text


def test_save_writes_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("CART_REPORTS_DIR", str(tmp_path))
    results.save(results.frame([_row()]), "demo")
    back = pd.read_csv(tmp_path / "tables" / "results" / "demo.csv")
    assert list(back.columns) == results.RESULT_COLUMNS


def test_band_check_accepts_every_value_that_rounds_to_the_printed_one():
    # printed "1.01" stands for [1.005, 1.015): a band starting at 1.0104 still contains it
    df = results.frame([_row(quantity="HR", reported=1.01, reported_printed="1.01")])
    draws = pd.DataFrame({"rep": range(100), "claim_id": "FIG-06", "item": "or_large",
                          "estimate": np.linspace(1.0104, 1.03, 100)})  # fmt: skip
    assert bool(replicate.summarise(draws, df).within_band[0])
    exact = results.frame([_row(quantity="HR", reported=1.01)])
    assert not bool(replicate.summarise(draws, exact).within_band[0])


def test_display_shows_a_median_not_reached_as_printed():
    row = results.row("NAST-05", "os_median", "median", "held-out", reported=None, reported_printed="NR",
                      rederived=float("inf"))  # fmt: skip
    row.update(mc_lo=14.5, mc_hi=float("inf"))
    shown = results.display(results.frame([row]), ["reported", "rederived", "mc_lo", "mc_hi"]).iloc[0]
    assert shown.tolist() == ["NR", "NR", "14.5", "NR"]
