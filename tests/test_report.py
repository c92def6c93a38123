"""The HTML report reads for a clinician and opens from disk in a real headless Chromium.

A small site is built from made-up results rows (one per kind of verdict), a made-up sweep and run
records: every link resolves, every registered paper and claim is on the page with its source kind,
the headline counts statuses by role and never says "reproduced", significant results carry the
winner's curse, and at 1366 px and 400 px the page does not overflow and every figure has a caption.
The browser part needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); elsewhere
it is skipped with a message saying how to enable it; in CI (CI=true) it always runs.
"""

import fnmatch
import html
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from helpers import infeasibility, ledger, paths, report, results, runner, scorecard, sensitivity  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCREENSHOTS = paths.PROJ_ROOT / "reports" / "screenshots"


def _row(ref, position, check_power, **extra):
    """A results row of a ledger item with a made-up band and verdict inputs."""
    r = results.from_ledger(ref, reported=extra.pop("reported", None))
    r.update(mc_lo=0.5, mc_median=1.0, mc_hi=2.0, percentile_lo=0.4, percentile_hi=0.45, percentile_mcse=0.016,
             check_power=check_power, alternative="no effect (ratio 1)", band_position=position, **extra)  # fmt: skip
    return r


def _card() -> pd.DataFrame:
    rows = [
        results.from_ledger("JAIN-01/patients"),  # an input
        _row("JAIN-05/mmdsc_ndr_vs_dr", "inside", 0.18, power=0.52, p_reach=0.516, exaggeration=1.28),
        _row("JAIN-02/ifn_genes_ndr_vs_dr", "inside", 0.0, reported=1.0, power=0.86),
        _row("FIG-06/or_diameter_ge5cm", "inside", 0.97, power=0.98, p_reach=0.75, exaggeration=1.0),
        _row("FIG-11/hr_os_any_ge5cm", "inside", 0.12, power=0.07, p_reach=0.02, exaggeration=4.77),
        _row("DES-01/followup", "above", 0.99),
        _row("DES-15/pfs2_uni_high_ldh", "edge", 0.9),
    ]
    table = results.finalise(results.frame(rows), {"DES-01/followup": "assumption accrual_ramp: set by accrual"})
    return scorecard.build(table.assign(notebook="test"))


def _sweep(folder: Path) -> None:
    """A made-up one-at-a-time sweep of Figura: one assumption flips FIG-06."""
    rows = []
    for assumption, value, is_default, status in (("(default)", "", True, "supported"),
                                                   ("gee_working_correlation", "independence", False, "uninformative")):  # fmt: skip
        for cid, item, st in (("FIG-06", "or_diameter_ge5cm", status), ("FIG-11", "hr_os_any_ge5cm", "uninformative")):
            rows.append({"paper": "figura", "assumption": assumption, "value": value, "is_default": is_default,
                         "refit": "committed" if is_default else "not converged", "objective": 0.1, "residuals": "",
                         "claim_id": cid, "item": item, "role": "calibrated", "estimate": 2.0,
                         "percentile_lo": 0.4, "percentile_hi": 0.5, "status": st})  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=sensitivity.SWEEP_COLUMNS).to_csv(folder / "figura.csv", index=False)
    pd.DataFrame([{"paper": "figura", "kind": "model fit", "numbers": "FIG-02/recurred", "printed": "36",
                   "predicted": "44", "conflict_se": 2.5, "improvement": 0.1, "pulls_against": "",
                   "explanation": "the model fitted to the other targets predicts 44"}],
                 columns=infeasibility.COLUMNS).to_csv(folder / "infeasibility.csv", index=False)  # fmt: skip


def _site(root: Path, card: pd.DataFrame) -> Path:
    for sub in ("tables", "figures", "notebooks", "runs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    card.to_csv(root / "tables" / "scorecard.csv", index=False)
    pd.DataFrame([{"paper": "descart", "claim_id": "DES-15", "item": "pfs2_uni_high_ldh", "check": "token_parses",
                   "verdict": "inconsistent", "detail": "'4.0.6' is not a number"}]).to_csv(
        root / "tables" / "audit.csv", index=False)  # fmt: skip
    for name in ("20_figura_effects", "scorecard_jain", "audit_summary"):
        fig, ax = plt.subplots(figsize=(9, 3))  # wider than a phone: must shrink to fit
        ax.plot([0, 1], [0, 1])
        fig.savefig(root / "figures" / f"{name}.png", dpi=100)
        plt.close(fig)
    shutil.copy(paths.NOTEBOOKS / "00_ledger.ipynb", root / "notebooks")
    defaults = runner.defaults(runner.resolve("30"))
    record = {"notebook": "30_jain", **defaults, "subset_scale": 0.5, "given": ["subset_scale"], "seconds": 12.1,
              "finished": "2026-12-01T10:00:00"}  # fmt: skip
    (root / "runs" / "30_jain.json").write_text(json.dumps(record))
    ledger_run = {"notebook": "00_ledger", **runner.defaults(runner.resolve("00")), "given": [], "seconds": 2.0,
                  "finished": "2026-12-01T10:00:00"}  # fmt: skip
    (root / "runs" / "00_ledger.json").write_text(json.dumps(ledger_run))
    return report.build(root)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    swept = tmp_path_factory.mktemp("data") / "sensitivity"
    _sweep(swept)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sensitivity, "SWEPT", swept)
        mp.setattr(paths, "DATA", swept.parent)  # infeasibility.load reads data/sensitivity/
        return _site(tmp_path_factory.mktemp("reports"), _card())


def _pages(site):
    return [site, *sorted((site.parent / "journal_club").glob("*.html"))]


def _text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def _local_links(page: Path) -> list[Path]:
    refs = re.findall(r"""(?:href|src)=['"]([^'"#]+)['"]""", _text(page))
    return [(page.parent / unquote(r)).resolve() for r in refs if not urlparse(r).scheme]


def test_every_local_link_and_image_exists(site):
    assert len(_pages(site)) == len(ledger.PAPERS) + 1  # the index and one sheet per registered paper
    for page in _pages(site):
        missing = [str(p) for p in _local_links(page) if not p.exists()]
        assert not missing, f"{page.name} links to missing files: {missing}"
    assert (site.parent / "notebooks" / "00_ledger.html").exists()  # notebook rendered


def test_counts_come_from_the_registry_and_every_claim_is_on_the_page(site):
    text = _text(site)
    n_claims = sum(len(ids) for ids in ledger.claims_index().values())
    assert f"{len(ledger.PAPERS)} studies re-derived" in text and f"({n_claims} claims)" in text
    for ids in ledger.claims_index().values():
        for cid in ids:
            assert cid in text


def test_nothing_is_called_reproduced(site):
    for page in _pages(site):
        assert not re.search(r"reproduc", _text(page), re.I), f"{page.name} still speaks of reproduction"


def test_headline_counts_statuses_by_role(site):
    text = _text(site)
    assert "Of 6 printed numbers judged against same-size simulated studies, 1 is supported" in text
    assert "<b>3 are uninformative</b>" in text and "<b>1 is contradicted</b>" in text
    assert "Statuses per paper and role" in text and "Figura et al. 2021" in text  # labels, not keys
    assert "calibrated" in text and "held out" in text


def test_each_paper_says_what_kind_of_source_its_numbers_come_from(site):
    text = html.unescape(_text(site))
    for paper in ledger.PAPERS:
        led = ledger.load_paper(paper)
        label, limits = ledger.SOURCE_KINDS[led.source_kind]
        assert f"Source: {label}." in text and limits in text
        sheet = html.unescape(_text(site.parent / "journal_club" / f"{paper}.html"))
        assert f"Source: {label}." in sheet and limits in sheet


def test_glossary_defines_every_status_and_the_words_of_the_report(site):
    text = _text(site)
    for word in ("supported", "uninformative", "borderline", "contradicted", "same-size studies, 95% band", "check power",
                 "winner&#x27;s curse", "input / calibrated / held-out"):  # fmt: skip
        assert f"<dt>{word}" in text or f"<dt>status: {word}" in text, word


def test_qualitative_claims_and_p_values_read_in_words(site):
    text = _text(site)
    assert "NDR &gt; DR (significant)" in text and "show it in 60% of same-size studies" in text
    assert "P = .049" in text and "2.34 (1.55–3.55), P &lt; .001" in text


def test_journal_club_sheet_shows_the_winners_curse_of_every_significant_result(site):
    sheet = _text(site.parent / "journal_club" / "figura.html")
    for cid, power, exaggeration in (("FIG-06", "98%", "1.00x"), ("FIG-11", "7%", "4.77x")):
        row = re.search(rf"<tr><td>{cid}.*?</tr>", sheet, re.S).group(0)
        assert power in row and exaggeration in row
    assert "1 of the 2 would be missed more often than found" in sheet
    assert "What survives" in sheet and "Supported by a check that could have failed (1" in sheet


def test_sensitivity_and_numbers_that_cannot_all_be_true(site):
    text = _text(site)
    assert "1 of 2 judged numbers change status somewhere" in text and "gee_working_correlation" in text
    assert "stopped before converging" in text
    assert "1 of 1 leave-out refits" in text and "FIG-02/recurred" in text
    assert "Not swept yet" in text  # the other papers have no sweep in this site


def test_without_a_sweep_each_section_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.setattr(sensitivity, "SWEPT", tmp_path / "none")
    monkeypatch.setattr(paths, "DATA", tmp_path)
    text = _text(_site(tmp_path / "reports", _card()))
    assert text.count("Not swept yet: run <code>make sensitivity</code>") == len(ledger.PAPERS)
    assert "Not computed yet: run <code>make sensitivity</code>" in text


def test_runs_table_says_where_the_numbers_come_from(site):
    text = _text(site)
    assert "Where the numbers come from" in text and "Not at the default parameters (in bold): 30_jain" in text
    assert "subset_scale=0.5" in text


def test_a_sheet_from_a_moved_run_says_so_and_unused_parameters_show_a_dash(site):
    sheet = _text(site.parent / "journal_club" / "jain.html")
    assert "away from the defaults (30_jain: subset_scale=0.5)" in sheet
    assert "away from the defaults" not in _text(site.parent / "journal_club" / "figura.html")
    row = re.search(r"00_ledger</a></td>(.*?)</tr>", _text(site)).group(1)
    assert row.count("<td class='num'>—</td>") == 2  # the ledger notebook uses neither seed nor replicates
def test_notebook_pages_are_rendered_only_when_stale(site):
    page = site.parent / "notebooks" / "00_ledger.html"
    stamp = page.stat().st_mtime_ns
    report.render_notebooks(site.parent)
    assert page.stat().st_mtime_ns == stamp


def _saved_figure_names() -> set[str]:
    """Figure names the code saves (f-string parts become '*')."""
    names = set()
    patterns = [r"save\(\s*[\w.]+\s*,\s*f?\"([^\"]+)\"", r"name or f?\"([^\"]+)\"", r"figures_dir\(\) / f?\"([^\"]+)\.png\"",
                r"figures\.\w+\([^)]*\"(\d\d_[a-z0-9_]+)\"\)"]  # fmt: skip
    for path in [*paths.PROJ_ROOT.joinpath("src").rglob("*.py"), *paths.NOTEBOOKS.glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        for pattern in patterns:
            names |= {re.sub(r"\{[^}]*\}", "*", m) for m in re.findall(pattern, text)}
    return names - {"*"}  # helpers.figures.save itself: f"{name}.png"


def test_every_figure_the_code_saves_has_a_caption():
    known = report.captions()
    names = _saved_figure_names()
    assert {"20_figura_effects", "scorecard_*", "audit_summary", "10_descart_km"} <= names  # the scan works
    missing = sorted(n for n in names if not any(fnmatch.fnmatchcase(n.replace("*", "x"), k) or n == k for k in known))
    assert not missing, f"figures without a caption in docs/figure_captions.yaml: {missing}"


def test_figures_have_their_caption_and_a_full_size_link(site):
    text = _text(site)
    assert report.caption_of("scorecard_jain", "Jain et al. 2021")[:60] in text
    assert "<a href='figures/20_figura_effects.png' title='open at full size'>" in text


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the browser test: install chromium and chromium-driver (see .ci/run)")
        pytest.skip("headless Chromium not found: `sudo apt-get install chromium chromium-driver` enables this test")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1366,900", "--hide-scrollbars"):  # fmt: skip
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


@pytest.mark.parametrize("width", [1366, 400])
def test_site_in_a_real_browser_at_laptop_and_phone_width(site, browser, width):
    # a true 400 px viewport (a desktop window cannot be made narrower than about 500 px)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})  # fmt: skip
    for page in _pages(site):
        browser.get(page.as_uri())
        assert browser.title, f"{page.name} has no title"
        broken = browser.execute_script(
            "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        assert not broken, f"{page.name}: images that did not load: {broken}"
        over = browser.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert over <= 0, f"{page.name} at {width} px: the page body overflows by {over} px"
        uncaptioned = browser.execute_script(
            "return Array.from(document.querySelectorAll('figure')).filter(f => !(f.querySelector('figcaption')"
            " && f.querySelector('figcaption').innerText.trim().length > 20)).length"
        )
        assert uncaptioned == 0, f"{page.name}: {uncaptioned} figures without a caption"
    browser.get(site.as_uri())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / f"index_{width}px.png"))


def test_a_paper_registered_before_its_ledger_does_not_break_the_report(scratch_data, tmp_path, monkeypatch):
    """Step 1 of adding a paper (the registry entry) alone: the report names what is missing."""
    index = scratch_data / "reported" / "claims_index.yaml"
    index.write_text(index.read_text(encoding="utf-8") + "zzz:\n- claim_id: ZZZ-01\n  claim: a new claim\n",
                     encoding="utf-8")  # fmt: skip
    monkeypatch.setattr(ledger, "PAPERS", (*ledger.PAPERS, "zzz"))
    monkeypatch.setattr(ledger, "PREFIX", {**ledger.PREFIX, "zzz": "ZZZ"})
    monkeypatch.setattr(sensitivity, "SWEPT", tmp_path / "none")
    text = _text(_site(tmp_path / "reports", _card()))
    assert f"{len(ledger.PAPERS)} studies re-derived" in text and "ZZZ-01" in text
    assert "registered but its ledger cannot be read" in text and "A new paper? Create it" in text


def test_after_a_single_notebook_without_a_scorecard_the_report_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(paths, "PROJ_ROOT", tmp_path)
    assert report.main(["--if-ready"]) == 0
    assert "make all" in capsys.readouterr().out
    assert report.main([]) == 2  # make all: the report must be built


def test_every_registered_paper_states_its_source_kind():
    missing = [p for p in ledger.PAPERS if ledger.load_paper(p).source_kind is None]
    assert not missing, f"add source_kind (one of {sorted(ledger.SOURCE_KINDS)}) to data/reported/<paper>.yaml: {missing}"


def test_the_known_truth_study_is_shown_with_every_sampler(site):
    """The committed known-truth study (docs/figures) reaches the report: each sampler's rows."""
    text = _text(site)
    assert "Known truth: do the bands cover what they should?" in text
    section = text[text.index("Known truth: do the bands"):]
    assert "rejection, shared table" in section and "pyabc" in section
