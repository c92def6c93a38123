"""Notebook conventions (STYLE.md): each notebook opens with a title and citation, has one
`parameters` cell of literals, closes with a watermark ignored by nbval, stores no unstable
output, and is in sync with its py:percent pair."""

import ast
import re

import jupytext
import nbformat
import pytest

from helpers import paths, runner

NOTEBOOKS = runner.notebooks()
IDS = [p.stem for p in NOTEBOOKS]


def _nb(path):
    return nbformat.read(path, as_version=4)


def test_every_notebook_is_numbered_and_paired():
    assert NOTEBOOKS, "no notebooks found"
    stray = sorted(p.name for p in paths.NOTEBOOKS.glob("*.ipynb") if p not in NOTEBOOKS)
    assert not stray, f"unnumbered notebooks: {stray}"
    for nb in NOTEBOOKS:
        assert nb.with_suffix(".py").exists(), f"{nb.name} has no py:percent pair"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_py_pair_is_in_sync(path):
    paired = jupytext.read(path.with_suffix(".py"))
    stored = _nb(path)
    sources = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]  # noqa: E731
    assert sources(paired) == sources(stored), f"{path.stem}: .py and .ipynb differ; run `make refresh`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_opening_parameters_and_closing_cells(path):
    nb = _nb(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "opens with a title"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged parameters"
    tree = ast.parse(params[0].source)
    for stmt in tree.body:  # `name: type = literal`: papermill --help-notebook shows the type
        assert isinstance(stmt, ast.AnnAssign) and isinstance(stmt.value, ast.Constant), (
            "the parameters cell holds typed literals only"
        )
    names = {s.target.id for s in tree.body}
    assert {"seed", "replicates"} <= names
    assert "NBVAL_IGNORE_OUTPUT" in nb.cells[-1].source and "watermark" in nb.cells[-1].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_unstable_outputs_are_stored(path):
    text = path.read_text(encoding="utf-8")
    assert '"name": "stderr"' not in text, "a warning or log reached the output: fix its cause"
    assert not re.search(r"0x[0-9a-f]{8,}", text), "a memory address is stored in an output"
    assert '"papermill"' not in text, "papermill metadata must be stripped (make refresh does it)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_global_random_state(path):
    text = path.with_suffix(".py").read_text(encoding="utf-8")
    assert "np.random.seed" not in text and "random.seed(" not in text
