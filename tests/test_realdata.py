"""The real-data validation (helpers.realdata): the data sets load offline, the generated papers
print what the patient data give (rounded as printed), the audit raises no false alarm on them,
the committed generated files and study are what the code produces, and the generated studies
never become papers of the project."""

import math
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test

from helpers import audit, kernels, ledger, tokens
from helpers.realdata import datasets, paper, splits, validate

NAMES = list(validate.DATASETS_ORDER)
SIZES = {"gbsg2": 686, "lung": 227, "rossi": 432, "larynx": 90, "leukemia": 42}
# the reference engine is lifelines itself, called the same way: equal up to summation order
SAME_LIBRARY = 1e-9


@pytest.mark.parametrize("name", NAMES)
def test_each_data_set_loads_as_a_cohort(name):
    ds = datasets.dataset(name)
    c = datasets.cohort(name)
    assert len(c["group"]) == SIZES[name]
    assert set(c) == {"group", *(v.name for v in ds.covariates), f"{ds.endpoint}_time", f"{ds.endpoint}_event"}
    for v in ds.covariates:
        x = c[v.name]
        assert not np.isnan(x).any()
        if v.kind != "continuous":
            assert set(np.unique(x)) <= set(range(len(ds.levels_of(v.name))))


def test_truth_is_what_lifelines_gives_by_hand():
    d = datasets.frame("gbsg2")
    km = KaplanMeierFitter().fit(d.rfs_time[d.group == 0], d.rfs_event[d.group == 0])
    cox = CoxPHFitter().fit(d[["group", "rfs_time", "rfs_event"]], "rfs_time", "rfs_event")
    t = paper.truth("gbsg2").set_index("item")
    assert t.loc["median_no_hormone", "truth"] == pytest.approx(kernels.km.lifelines_median(km)[0], rel=SAME_LIBRARY)
    assert t.loc["uni_hormone", "truth"] == pytest.approx(math.exp(cox.params_["group"]), rel=SAME_LIBRARY)
    s24 = float(km.survival_function_at_times([24.0]).iloc[0])
    assert t.loc["s24_no_hormone", "truth"] == pytest.approx(100 * s24, rel=SAME_LIBRARY)
    lung = datasets.frame("lung")
    male, female = lung[lung.group == 0], lung[lung.group == 1]
    p = logrank_test(male.os_time, female.os_time, male.os_event, female.os_event).p_value
    assert paper.truth("lung").set_index("item").loc["logrank_p", "truth_p"] == pytest.approx(p, rel=SAME_LIBRARY)


@pytest.mark.parametrize("name", NAMES)
def test_every_printed_number_rounds_from_the_truth(name):
    """A printed token stands for an interval; the unrounded truth lies in it (bounds, NR included)."""
    t = paper.truth(name).set_index("item")
    led = ledger.PaperLedger.model_validate(paper.ledger(datasets.dataset(name)))
    checked = 0
    for claim in led.claims:
        for it in claim.items:
            if it.item not in t.index:
                continue  # a range: min and max printed directly
            row = t.loc[it.item]
            pairs = [(it.value, row.truth), (it.lo, row.truth_lo), (it.hi, row.truth_hi), (it.p, row.truth_p)]
            for printed, value in pairs:
                if printed is None:
                    continue
                tok = tokens.parse(printed)
                if tok.status == "not_reached":
                    assert not math.isfinite(value), (it.item, printed, value)
                else:
                    lo, hi = tok.interval()
                    assert lo - 1e-9 <= value <= hi + 1e-9, (it.item, printed, value)  # 1e-9: binary decimals
                checked += 1
    assert checked >= 25


@pytest.mark.parametrize("name", NAMES)
def test_the_audit_raises_no_false_alarm_on_numbers_from_real_data(name):
    """Numbers computed from patient data and rounded as printed are consistent by construction: the
    audit (rounding-aware) must find nothing, over every kind of check it can apply to them."""
    led = ledger.PaperLedger.model_validate(paper.ledger(datasets.dataset(name)))
    found = audit.audit_paper(led)
    assert (found.verdict != "inconsistent").all(), found[found.verdict == "inconsistent"].to_dict("records")
    ran = set(found[found.verdict == "consistent"].check)
    assert {"grim", "ci_contains_estimate", "ci_log_symmetry", "p_from_ci", "ci_from_p", "sum", "subset",
            "landmark_median"} <= ran  # fmt: skip


def test_the_audit_would_have_flagged_a_wrong_number():
    """The check above could fail: one P value moved off its HR and CI is flagged."""
    data = paper.ledger(datasets.dataset("lung"))
    hr = next(i for c in data["claims"] for i in c["items"] if i["item"] == "uni_female")
    hr["p"] = ".30"
    found = audit.audit_paper(ledger.PaperLedger.model_validate(data))
    assert set(found[found.verdict == "inconsistent"].check) >= {"p_from_ci"}


@pytest.mark.parametrize("name", NAMES)
def test_committed_generated_papers_are_current(name, tmp_path, monkeypatch):
    monkeypatch.setattr(validate, "STUDY_CSV", tmp_path / "study.csv")  # generate into tmp_path/<name>
    validate.generate([name])
    files = ["ledger.yaml", "assumed.yaml", "spec.yaml"] + (["spec_by_arm.yaml"] if datasets.dataset(name).two_arms else [])
    for f in files:
        committed = validate.generated_folder(name) / f
        assert committed.read_text(encoding="utf-8") == (tmp_path / name / f).read_text(encoding="utf-8"), (
            f"{committed} is stale: run `make validate-real`")


def test_mimic_split_fits_medians_and_univariable_hrs_only():
    for name in NAMES:
        ds = datasets.dataset(name)
        targets = [t.split("/")[1] for t in splits.mimic(ds).targets]
        assert all(t.startswith(("median_", "uni_")) or (t[0] == "s" and name == "rossi") for t in targets), targets
        assert {t for t in targets if t.startswith("uni_")} == {e.item for e in paper.entries(ds) if e.item.startswith("uni_")}


def test_random_splits_are_identified_and_reproducible():
    ds = datasets.dataset("gbsg2")
    a, b = splits.random(ds, 3, seed=5), splits.random(ds, 3, seed=5)
    assert a == b and splits.identified(ds, a.targets)
    assert splits.random(ds, 4, seed=5).targets != a.targets
    assert not splits.identified(ds, tuple(t for t in a.targets if "nodes" not in t))  # nodes' effects unfixed


@pytest.mark.parametrize("model", ["pooled", "by_arm"])
def test_a_run_reproduces_the_committed_study_and_stays_outside(tmp_path, model):
    """Leukemia under the mimic split, at the committed settings, gives the committed rows under
    either model; and the generated study never joins the project's papers."""
    papers = ledger.PAPERS
    split = splits.mimic(datasets.dataset("leukemia"))
    run = validate.run_split("leukemia", split, replicates=validate.DEFAULTS["replicates"], seed=validate.DEFAULTS["seed"],
                             folder=tmp_path / "leukemia", model=model)  # fmt: skip
    got = validate.rows(run).reset_index(drop=True)
    study = validate.load_study()
    want = study[(study.dataset == "leukemia") & (study.split == "mimic") & (study.model == model)
                 & (study.band == "predictive")].reset_index(drop=True)  # fmt: skip
    assert list(got.item) == list(want.item) and list(got.status) == list(want.status)
    assert list(got.covered) == list(want.covered)
    # 1e-6 relative: the committed study ran on this machine type with pinned CPU features
    # (Makefile); the bands are order statistics of the same draws, so only last bits may differ
    for col in ("truth", "mc_lo", "mc_median", "mc_hi"):
        assert np.allclose(got[col], want[col], rtol=1e-6, equal_nan=True), col
    assert ledger.PAPERS == papers and not ledger.is_paper("leukemia")


def test_a_second_band_kind_is_one_entry(tmp_path, monkeypatch):
    """Another kind of band (issue 18's posterior bands) plugs in through validate.BANDS: its rows
    sit beside the predictive ones and every summary groups by band."""
    def wide(settings, replicates, seed):
        draws = validate.predictive(settings, replicates, seed)
        return draws.assign(estimate=draws.estimate * np.where(draws.rep % 2 == 0, 0.5, 2.0))

    monkeypatch.setitem(validate.BANDS, "wide", wide)
    split = splits.mimic(datasets.dataset("leukemia"))
    run = validate.run_split("leukemia", split, replicates=40, seed=1, folder=tmp_path / "l", bands=("predictive", "wide"))
    rows = validate.rows(run)
    assert set(rows.band) == {"predictive", "wide"}
    assert len(validate.coverage(rows, band="wide")) > 1


def test_coverage_probability_and_summary():
    # a truth at the middle is always inside; at a band edge inside half the time
    p = validate.covered_probability(np.array([0.5, 0.025, 0.975, 0.0]), np.array([200, 200, 200, 200]))
    assert p[0] == pytest.approx(1.0, abs=1e-9) and p[1] == pytest.approx(0.5, abs=0.01)
    assert p[2] == pytest.approx(0.5, abs=0.01) and p[3] < 0.01
    df = pd.DataFrame({"dataset": "lung", "model": "pooled", "split": ["mimic", "random-1", "random-1", "random-2"], "band": "predictive",
                       "role": "held-out", "kind": "landmark", "covered": [True, True, False, True],
                       "truth": [1.0, 1.0, 0.0, 1.0], "mc_lo": 0.5, "mc_hi": 2.0, "truth_percentile": 0.5,
                       "replicates": 200, "width": 1.5})  # fmt: skip
    table = validate.coverage(df)
    assert table.loc["landmark", "coverage"] == 0.75 and table.loc["landmark", "mimic"] == 1.0
    assert table.loc["landmark", "random_splits"] == 0.75 and table.loc["landmark", "misses_below"] == 1
    assert table.loc["landmark", "split_sd"] == pytest.approx(np.std([0.5, 1.0], ddof=1))


def test_generated_files_read_back_as_an_outside_study(tmp_path):
    folder = tmp_path / "lung"
    shutil.copytree(validate.generated_folder("lung"), folder)
    with ledger.outside("lung", folder):
        frame = ledger.frame("lung")
        assert len(frame) == len(paper.entries(datasets.dataset("lung")))
    spec = yaml.safe_load((folder / "spec.yaml").read_text(encoding="utf-8"))
    assert spec["calibration"]["targets"] == list(splits.mimic(datasets.dataset("lung")).targets)


def test_notebook_parameters_name_a_data_set_and_a_model():
    from helpers.params import ParameterError
    from helpers.realdata import view

    assert view.live_choice(2, False) == ("lung", "pooled") and view.live_choice(5, True) == ("leukemia", "by_arm")
    with pytest.raises(ParameterError, match=r"dataset=0 is not allowed: use 1 to 5 \(1 gbsg2"):
        view.live_choice(0, False)
