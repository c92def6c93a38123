"""The README's paper table lists every registered paper (the registry is the one list)."""

import pytest

from helpers import ledger, paths

README = (paths.PROJ_ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("paper", ledger.PAPERS)
def test_every_registered_paper_is_in_the_readme_table(paper):
    led = ledger.load_paper(paper)
    rows = [line for line in README.splitlines() if line.startswith("|") and led.doi in line]
    assert rows, f"README.md: no row of the paper table carries {paper}'s DOI {led.doi}"
    assert f"{ledger.prefix(paper)}-01" in rows[0], f"README.md: {paper}'s row does not name its claims"
    for nb in led.notebooks:
        assert f"`{nb}`" in rows[0], f"README.md: {paper}'s row does not name its notebook {nb}"
