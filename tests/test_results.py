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
    draws = pd.DataFrame({
        "rep": np.tile(np.arange(100), 2), "claim_id": "FIG-06",
        "item": np.repeat(["or_large", "or_suv"], 100),
        "estimate": np.r_[np.linspace(1.5, 3.5, 100), np.linspace(1.5, 3.5, 100)],
        "lo": 1.2, "hi": np.r_[np.full(100, 4.0), np.full(100, 0.9)], "p": np.r_[np.full(100, 0.01), np.full(100, 0.2)],
    })  # fmt: skip
    out = results.finalise(replicate.summarise(draws, df))
    assert list(out.status) == ["reproduced", "not-reproduced"]
    assert out.power.tolist() == [1.0, 0.0]
    assert out.ci_excludes_null.tolist() == [1.0, 1.0]  # lo 1.2 > 1, then hi 0.9 < 1


def test_qualitative_direction():
    rows = [results.row("JAIN-08", "ifn_vs_expansion", "qualitative", "descriptive", reported=-1, rederived=-0.3),
            results.row("JAIN-09", "ferritin", "qualitative", "descriptive", reported=1, rederived=-0.1)]
    out = results.finalise(results.frame(rows))
    assert list(out.status) == ["direction-reproduced", "direction-not-reproduced"]


def test_no_band_and_not_rederived():
    out = results.finalise(results.frame([_row(), _row(item="x", rederived=None)]))
    assert list(out.status) == ["no-band", "not-rederived"]


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
