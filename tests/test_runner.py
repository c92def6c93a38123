"""The runner refuses bad input before any work and never leaves a half-written reports/ behind."""

import shutil

import nbformat
import pytest

from helpers import paths, runner
from helpers.params import ParameterError


def test_unknown_notebook_lists_the_valid_ones():
    with pytest.raises(runner.RunnerError, match=r"not a notebook; valid names: 00_ledger"):
        runner.resolve("99_nothing")


def test_notebook_by_number_or_name():
    assert runner.resolve("00").stem == "00_ledger"
    assert runner.resolve("00_ledger").stem == "00_ledger"


@pytest.mark.parametrize(
    ("pairs", "match"),
    [(["seed=-3"], "seed="), (["replicates=0"], "replicates="), (["seed=1.5"], "seed="), (["seed"], "name=value")],
)
def test_bad_parameters_are_refused(pairs, match):
    with pytest.raises(ParameterError, match=match):
        runner.parse_params(pairs)


def test_unknown_parameter_name_is_refused_before_any_run():
    with pytest.raises(ParameterError, match=r"has no parameter sed; it takes: replicates, seed"):
        runner.run([runner.resolve("00")], {"sed": 1}, strict=True)


def test_main_exit_code_and_message(capsys):
    assert runner.main(["notebook", "nope"]) == 2
    assert "valid names" in capsys.readouterr().err


def _tiny_notebook(path, fail=False):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("seed = 1  # the seed\nreplicates = 2  # replicate count")
    params.metadata["tags"] = ["parameters"]
    body = ("from helpers import paths\n"
            "(paths.tables_dir() / 'out.csv').write_text(f'seed,{seed}\\n')\n"
            + ("raise RuntimeError('boom')\n" if fail else ""))  # fmt: skip
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)


def test_failed_run_leaves_last_good_outputs_unchanged(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "PROJ_ROOT", tmp_path)
    good, bad = tmp_path / "01_good.ipynb", tmp_path / "02_bad.ipynb"
    _tiny_notebook(good)
    _tiny_notebook(bad, fail=True)
    runner.run([good], {"seed": 5})
    table = tmp_path / "reports" / "tables" / "out.csv"
    assert table.read_text() == "seed,5\n"
    with pytest.raises(runner.RunnerError, match=r"(?s)02_bad.ipynb failed.*RuntimeError: boom.*unchanged"):
        runner.run([good, bad], {"seed": 9})
    assert table.read_text() == "seed,5\n"  # the second run's seed=9 table was not promoted
    leftovers = [p.name for p in (tmp_path / "reports").iterdir() if p.name.startswith(".staging")]
    assert not leftovers
    shutil.rmtree(tmp_path / "reports")


def test_interrupted_run_leaves_last_good_outputs_unchanged(tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.setattr(paths, "PROJ_ROOT", tmp_path)
    good = tmp_path / "01_good.ipynb"
    _tiny_notebook(good)
    runner.run([good], {"seed": 5}, quiet=True)
    table = tmp_path / "reports" / "tables" / "out.csv"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # as Ctrl-C half-way through a run

    monkeypatch.setattr(pm, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.run([good], {"seed": 9}, quiet=True)
    assert table.read_text() == "seed,5\n"
    assert not [p for p in (tmp_path / "reports").iterdir() if p.name.startswith(".staging")]


@pytest.mark.parametrize(("pairs", "match"), [
    (["subset_scale=abc"], r"subset_scale='abc' is not allowed in 30_jain: it takes float"),
    (["patients=1.5"], r"patients=1.5 is not allowed in 40_tumor_burden: it takes int"),
])  # fmt: skip
def test_wrong_type_for_a_notebook_parameter_stops_before_any_run(pairs, match, monkeypatch):
    import papermill as pm

    def must_not_run(*args, **kwargs):
        raise AssertionError("a notebook was executed")

    monkeypatch.setattr(pm, "execute_notebook", must_not_run)
    with pytest.raises(ParameterError, match=match):
        runner.run(runner.notebooks(), runner.parse_params(pairs))


def _every_declared_parameter():
    return [(nb, name) for nb in runner.notebooks() for name in runner.declared_parameters(nb)]


@pytest.mark.parametrize(("nb", "name"), _every_declared_parameter(), ids=lambda x: getattr(x, "stem", x))
def test_every_notebook_parameter_refuses_a_wrong_type_before_any_run(nb, name, monkeypatch):
    import papermill as pm

    monkeypatch.setattr(pm, "execute_notebook", lambda *a, **k: pytest.fail("a notebook was executed"))
    with pytest.raises(ParameterError, match=name):
        runner.run([nb], runner.parse_params([f"{name}=not-a-number"]), strict=True)


def test_out_of_range_notebook_parameter_fails_in_its_first_cell_and_keeps_outputs(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "PROJ_ROOT", tmp_path)  # reports/ of this test only
    with pytest.raises(runner.RunnerError, match=r"30_jain.ipynb failed in cell \d+: ParameterError: subset_scale"):
        runner.run([runner.resolve("30")], {"subset_scale": -1.0}, strict=True, quiet=True)
    assert not (tmp_path / "reports" / "tables").exists()  # nothing of the failed run was kept
