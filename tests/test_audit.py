"""Hand-worked cases for every audit check, including cases rounding explains (never flagged)."""

import pytest

from helpers import audit, ledger


def verdict(v: audit.Verdict) -> str:
    return v.verdict


# ---------------------------------------------------------------- malformed tokens


def test_malformed_token_is_reported_not_repaired():
    v = audit.check_token({"value": "2.66", "lo": "1.74", "hi": "4.0.6", "p": "<.0001"})
    assert v.verdict == "inconsistent"
    assert "'4.0.6'" in v.detail


def test_bounds_and_not_reached_are_valid_tokens():
    assert verdict(audit.check_token({"value": "NR", "lo": "2.9", "hi": None, "p": "<.0001"})) == "consistent"


def test_checks_needing_a_malformed_token_are_unverifiable():
    v = audit.check_p_from_ci("2.66", "1.74", "4.0.6", "<.0001")
    assert v.verdict == "unverifiable"
    assert "4.0.6" in v.detail


# ---------------------------------------------------------------- percentages (GRIM)


@pytest.mark.parametrize(
    ("percent", "count", "n", "expected"),
    [
        ("38.9", "72", "185", "consistent"),  # 72/185 = 38.92%
        ("57", "36", "63", "consistent"),  # 36/63 = 57.14%
        ("7.5", "9", "120", "consistent"),  # exactly 7.5%
        ("0.8", "1", "120", "consistent"),  # 0.833% rounds to 0.8: a naive 0.01 tolerance would flag it
        ("20.1", "48", "238", "inconsistent"),  # 20.17% rounds to 20.2
        ("14.1", "17", "120", "inconsistent"),  # 14.17% rounds to 14.2
        ("64", "154", "238", "inconsistent"),  # 64.71% rounds to 65
    ],
)
def test_grim_with_count_and_denominator(percent, count, n, expected):
    assert verdict(audit.check_grim(percent, n, count)) == expected


def test_grim_shows_the_recomputation_and_what_would_fit():
    v = audit.check_grim("20.1", "238", "48")
    assert "48/238 = 20.168%" in v.detail
    assert "[239]" in v.detail  # the one denominator 48 could have been 20.1% of
    assert "truncating" in v.detail


def test_grim_without_count_finds_no_whole_count():
    # 30/36 = 83.3% and 31/36 = 86.1%: no count of 36 prints as 84%
    v = audit.check_grim("84", "36")
    assert v.verdict == "inconsistent"
    assert "30/36 = 83.33%" in v.detail and "31/36 = 86.11%" in v.detail
    assert verdict(audit.check_grim("86", "36")) == "consistent"


def test_implied_denominator_lists_the_feasible_n():
    v = audit.check_implied_denominator("38.9", "72")
    assert v.verdict == "consistent"
    assert "n = 185" in v.detail  # 72/184 = 39.13%, 72/186 = 38.71%
    wide = audit.check_implied_denominator("58", "181")
    assert "310-314" in wide.detail  # 181/0.585 = 309.4 to 181/0.575 = 314.8


def test_implied_denominator_can_be_empty():
    # 17/120 = 14.17% and 17/121 = 14.05% (just under 14.05): no n gives 14.1%
    assert verdict(audit.check_implied_denominator("14.1", "17")) == "inconsistent"


def test_count_within_n():
    assert verdict(audit.check_count_within_n("36", "63")) == "consistent"
    assert verdict(audit.check_count_within_n("64", "63")) == "inconsistent"


# ---------------------------------------------------------------- CI against estimate


@pytest.mark.parametrize(
    ("value", "lo", "hi", "expected"),
    [
        ("2.34", "1.55", "3.55", "consistent"),
        ("1.01", "1.01", "1.02", "consistent"),  # estimate on the printed bound: rounding explains it
        ("9.6", "6.0", "NR", "consistent"),  # upper bound not reached
        ("1.8", "2.0", "3.1", "inconsistent"),  # 1.75-1.85 lies below 1.95-2.05
        ("2.0", "3.1", "2.9", "inconsistent"),  # bounds reversed
    ],
)
def test_ci_contains_estimate(value, lo, hi, expected):
    assert verdict(audit.check_ci_contains(value, lo, hi)) == expected


@pytest.mark.parametrize(
    ("value", "lo", "hi", "expected"),
    [
        ("2.34", "1.55", "3.55", "consistent"),  # sqrt(1.55 x 3.55) = 2.346
        ("0.95", "0.5", "1.66", "consistent"),  # naive sqrt = 0.911, but 0.45-0.55 is allowed by "0.5"
        ("3.36", "1.17", "9.96", "inconsistent"),  # midpoint 3.41 (3.406-3.422) vs 3.355-3.365
    ],
)
def test_log_symmetry(value, lo, hi, expected):
    assert verdict(audit.check_log_symmetry(value, lo, hi)) == expected


# ---------------------------------------------------------------- P against CI (both directions)

P_CASES = [
    ("1.94", "1.20", "3.13", ".0067", "consistent"),  # z = 2.71, P = .0068 within rounding
    ("2.66", "1.74", "4.06", "<.0001", "consistent"),  # z = 4.53
    # point values give P = .069, yet rounding of 0.47, 0.21 and 1.07 reaches .078: not flagged
    ("0.47", "0.21", "1.07", ".078", "consistent"),
    ("3.36", "1.17", "9.96", ".02", "inconsistent"),  # P from the CI is .026-.027, not within .015-.025
    ("2.66", "1.74", "4.06", ".04", "inconsistent"),
    ("NR", "0.5", "2.0", ".98", "unverifiable"),
]


@pytest.mark.parametrize(("value", "lo", "hi", "p", "expected"), P_CASES)
def test_p_from_ci_and_ci_from_p_agree(value, lo, hi, p, expected):
    # the two directions test one relation on one box of rounded values, so they must agree
    assert verdict(audit.check_p_from_ci(value, lo, hi, p)) == expected
    assert verdict(audit.check_ci_from_p(value, lo, hi, p)) == expected


def test_p_from_ci_detail_shows_the_recomputation():
    v = audit.check_p_from_ci("3.36", "1.17", "9.96", ".02")
    assert "z = ln 3.36/SE = 2.22" in v.detail
    assert "[0.026" in v.detail and "[0.015, 0.025]" in v.detail


# ---------------------------------------------------------------- sums, subsets


def test_sum_of_counts_is_exact():
    assert verdict(audit.check_sum([("54", True), ("102", True), ("82", True)], ("238", True))) == "consistent"
    assert verdict(audit.check_sum([("54", True), ("102", True), ("83", True)], ("238", True))) == "inconsistent"


def test_sum_of_rounded_percentages_allows_rounding():
    # 33.3 x 3 = 99.9, but each stands for 33.25-33.35, so 100 is reachable
    parts = [("33.3", False)] * 3
    assert verdict(audit.check_sum(parts, ("100", True))) == "consistent"
    assert verdict(audit.check_sum([("33", False)] * 3, ("100", True))) == "consistent"  # 97.5-100.5
    assert verdict(audit.check_sum([("32", False)] * 3, ("100", True))) == "inconsistent"  # at most 97.5


def test_subset():
    assert verdict(audit.check_subset(("13", True), ("31", True))) == "consistent"
    assert verdict(audit.check_subset(("40", True), ("36", True))) == "inconsistent"


# ---------------------------------------------------------------- survival summaries


@pytest.mark.parametrize(
    ("landmark", "time", "median", "event", "expected"),
    [
        ("47.9", "6", "5.2", False, "consistent"),
        ("71.6", "6", "2.8", True, "consistent"),  # 28.4% event-free past the median
        ("50", "6", "6.0", False, "consistent"),  # on the boundary: rounding explains it
        ("55", "6", "5.2", False, "inconsistent"),  # above 50% past the median
        ("45", "6", "8.0", False, "inconsistent"),  # below 50% before the median
        ("60", "12", "NR", False, "consistent"),
        ("40", "12", "NR", False, "inconsistent"),  # a median not reached keeps the curve above 50%
    ],
)
def test_landmark_median(landmark, time, median, event, expected):
    assert verdict(audit.check_landmark_median(landmark, time, median, event=event)) == expected


@pytest.mark.parametrize(
    ("pooled", "groups", "expected"),
    [
        ("2.8", ["1.7", "2.6", "4.2"], "consistent"),
        ("6.0", ["6.1", "9.6"], "consistent"),  # 6.05 rounds to both 6.0 and 6.1
        ("3.0", ["6.1", "9.6"], "inconsistent"),
        ("12.0", ["6.1", "NR"], "consistent"),
    ],
)
def test_pooled_median(pooled, groups, expected):
    assert verdict(audit.check_pooled_median(pooled, groups)) == expected


# ---------------------------------------------------------------- same quantity, repeated estimates


def item(**kw) -> ledger.Item:
    return ledger.Item(where="Table 1", **kw)


def test_same_quantity_allows_coarser_print():
    a, b = item(item="a", quantity="HR", value="2.7"), item(item="b", quantity="HR", value="2.66")
    assert verdict(audit.check_same(a, b, "X-01/b")) == "consistent"


def test_same_quantity_flags_different_values():
    a, b = item(item="a", quantity="median", value="1.7"), item(item="b", quantity="median", value="1.9")
    v = audit.check_same(a, b, "X-01/b")
    assert v.verdict == "inconsistent"
    assert "1.7 [1.65, 1.75] vs 1.9 [1.85, 1.95]" in v.detail


def test_same_quantity_count_against_percent():
    cnt = item(item="a", quantity="count", value="36", n="63")
    assert verdict(audit.check_same(cnt, item(item="b", quantity="percent", value="57"), "X/b")) == "consistent"
    assert verdict(audit.check_same(cnt, item(item="b", quantity="percent", value="58"), "X/b")) == "inconsistent"


def ratio(name, value, lo, hi):
    return (f"X-01/{name}", item(item=name, quantity="HR", value=value, lo=lo, hi=hi))


def test_repeated_estimate_flags_a_precise_repeat():
    found = audit.repeated_estimate(
        [ratio("pfs", "2.66", "1.74", "4.06"), ratio("os", "2.66", "1.74", "4.06"), ratio("x", "1.5", "1.1", "2.0")],
        set(),
    )
    assert found["X-01/pfs"].verdict == "inconsistent"
    assert "X-01/os" in found["X-01/pfs"].detail
    assert found["X-01/x"].verdict == "consistent"


def test_repeated_estimate_matches_a_malformed_look_alike():
    found = audit.repeated_estimate([ratio("pfs", "2.66", "1.74", "4.0.6"), ratio("os", "2.66", "1.74", "4.06")], set())
    assert found["X-01/pfs"].verdict == found["X-01/os"].verdict == "inconsistent"


def test_repeated_estimate_too_coarse_to_tell_is_not_flagged():
    # HR 1.01 per unit: the printed step (log 0.0099) is as wide as 2 SE, so repeats are expected
    found = audit.repeated_estimate([ratio("pfs", "1.01", "1.01", "1.02"), ratio("os", "1.01", "1.01", "1.02")], set())
    assert found["X-01/pfs"].verdict == "unverifiable"


def test_repeated_estimate_declared_same_quantity_is_consistent():
    pair = {frozenset(("X-01/a", "X-01/b"))}
    found = audit.repeated_estimate([ratio("a", "2.66", "1.74", "4.06"), ratio("b", "2.66", "1.74", "4.06")], pair)
    assert found["X-01/a"].verdict == "consistent"


# ---------------------------------------------------------------- a whole (hand-written) ledger

TOY = {
    "paper": "figura",
    "citation": "toy",
    "doi": "10/x",
    "source": "hand-written for the test",
    "claims": [
        {"claim_id": "FIG-01", "claim": "toy claim", "items": [
            {"item": "patients", "quantity": "n", "value": "63", "where": "Abstract"},
            {"item": "recurred", "quantity": "count", "value": "36", "n": "63", "where": "Abstract"},
            {"item": "recurred_pct", "quantity": "percent", "value": "57", "count": "36", "n": "63", "where": "Abstract"},
            {"item": "local", "quantity": "count", "value": "31", "where": "Abstract"},
            {"item": "distant", "quantity": "count", "value": "6", "where": "Abstract"},
            {"item": "hr_pfs", "quantity": "HR", "value": "2.41", "lo": "1.15", "hi": "5.04", "p": ".02", "where": "Abstract"},
            {"item": "hr_os", "quantity": "HR", "value": "2.41", "lo": "1.15", "hi": "5.04", "p": ".02", "where": "Abstract"},
        ]},
    ],
    "relations": [
        {"kind": "sum", "items": ["FIG-01/local", "FIG-01/distant"], "total": "FIG-01/recurred"},
        {"kind": "subset", "items": ["FIG-01/local"], "total": "FIG-01/recurred"},
        {"kind": "subset", "items": ["FIG-01/local"], "total": "FIG-01/patients"},
    ],
}  # fmt: skip


def test_audit_paper_gives_one_row_per_item_and_check():
    df = audit.audit_paper(ledger.PaperLedger.model_validate(TOY))
    assert list(df.columns) == audit.COLUMNS
    assert not df.duplicated(["claim_id", "item", "check"]).any()
    assert set(df.verdict) <= set(audit.VERDICTS)
    got = df.set_index(["item", "check"]).verdict
    assert got["recurred", "sum"] == "inconsistent"  # 31 + 6 = 37, not 36
    assert got["local", "subset"] == "consistent"  # two subset relations merged into one row
    assert got["hr_pfs", "repeated_estimate"] == "inconsistent"
    assert got["recurred_pct", "grim"] == "consistent"
    assert set(audit.findings(df).item) == {"recurred", "hr_pfs", "hr_os"}


def test_summary_counts_every_verdict():
    df = audit.audit_paper(ledger.PaperLedger.model_validate(TOY))
    table = audit.summary(df)
    assert list(table.columns) == list(audit.VERDICTS)
    assert table.to_numpy().sum() == len(df)


def test_real_ledgers_flag_the_malformed_bound():
    df = audit.audit(["descart"])
    assert not df.duplicated(["claim_id", "item", "check"]).any()
    malformed = df[(df.check == "token_parses") & (df.verdict == "inconsistent")]
    assert malformed.detail.str.contains("4.0.6").any()


def test_totals_list_every_paper_and_findings_filter_by_verdict():
    df = audit.audit_paper(ledger.PaperLedger.model_validate(TOY))
    table = audit.totals(df)
    assert list(table.index) == list(ledger.PAPERS)
    assert table.loc["ventin"].sum() == 0  # no rows for a paper still shows, as zeros
    assert table.loc["figura", "inconsistent"] == len(audit.findings(df, "figura"))
    assert audit.findings(df, verdict="unverifiable").empty
