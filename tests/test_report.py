"""The HTML report opens from disk in a real headless Chromium: every image loads, every link resolves.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them in CI). Elsewhere the
browser part is skipped with a message saying how to enable it; in CI (CI=true) it always runs.
"""

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

from helpers import ledger, paths, report, scorecard  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A small but complete site: scorecard, audit table, a figure and an executed notebook."""
    root = tmp_path_factory.mktemp("reports")
    (root / "tables").mkdir()
    (root / "figures").mkdir()
    (root / "notebooks").mkdir()
    card = scorecard.build(scorecard.gather().iloc[0:0])
    card.to_csv(root / "tables" / "scorecard.csv", index=False)
    pd.DataFrame([{"paper": "descart", "claim_id": "DES-15", "item": "x", "check": "malformed",
                   "verdict": "inconsistent", "detail": "'4.0.6' is not a number"}]).to_csv(
        root / "tables" / "audit.csv", index=False)  # fmt: skip
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(root / "figures" / "descart_demo.png", dpi=50)
    plt.close(fig)
    shutil.copy(paths.NOTEBOOKS / "00_ledger.ipynb", root / "notebooks")
    return report.build(root)


def _local_links(page: Path) -> list[Path]:
    html = page.read_text(encoding="utf-8")
    refs = re.findall(r"""(?:href|src)=['"]([^'"#]+)['"]""", html)
    return [(page.parent / unquote(r)).resolve() for r in refs if not urlparse(r).scheme]


def test_every_local_link_and_image_exists(site):
    pages = [site, *sorted((site.parent / "journal_club").glob("*.html"))]
    assert len(pages) == len(ledger.PAPERS) + 1  # the index and one journal-club sheet per paper
    for page in pages:
        missing = [str(p) for p in _local_links(page) if not p.exists()]
        assert not missing, f"{page.name} links to missing files: {missing}"
    assert "DES-15" in site.read_text(encoding="utf-8")  # audit finding shown
    assert (site.parent / "notebooks" / "00_ledger.html").exists()  # notebook rendered


def test_every_claim_is_on_the_page(site):
    text = site.read_text(encoding="utf-8")
    for cid in ("JAIN-01", "FIG-11", "DES-20", "VEN-05"):
        assert cid in text


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
                 "--no-first-run", "--window-size=1280,900"):  # fmt: skip
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def test_site_in_a_real_browser(site, browser):
    pages = [site, *sorted((site.parent / "journal_club").glob("*.html"))]
    for page in pages:
        browser.get(page.as_uri())
        assert browser.title, f"{page.name} has no title"
        broken = browser.execute_script(
            "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        assert not broken, f"{page.name}: images that did not load: {broken}"
    browser.get(site.as_uri())
    shot = paths.PROJ_ROOT / "reports" / "report_screenshot.png"
    shot.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(shot))
