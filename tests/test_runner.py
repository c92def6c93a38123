"""The runner refuses bad input before any work and never leaves a half-written reports/ behind."""

import shutil

import nbformat
import pytest

from helpers import params, paths, runner
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
    cell = nbformat.v4.new_code_cell("seed = 1  # the seed\nreplicates = 2  # replicate count")
    cell.metadata["tags"] = ["parameters"]
    body = ("from helpers import paths\n"
            "(paths.tables_dir() / 'out.csv').write_text(f'seed,{seed}\\n')\n"
            + ("raise RuntimeError('boom')\n" if fail else ""))  # fmt: skip
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
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


@pytest.mark.parametrize("nb", [*runner.notebooks(), "edge cases"], ids=lambda x: getattr(x, "stem", x))
def test_parameters_are_read_as_papermill_reads_them(nb, tmp_path):
    """runner._inspect reads the parameters cell without importing papermill; it must agree with
    papermill's own inspection, which injects the values."""
    import nbformat
    import papermill as pm

    if nb == "edge cases":
        source = "a = 1  # plain\nb: str = 'q'  # text\nc = [1,\n     2]  # over lines\nd: float = 0.5\n"
        made = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})])
        made.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
        nb = tmp_path / "edge.ipynb"
        nbformat.write(made, nb)
    assert runner._inspect(nb) == pm.inspect_notebook(str(nb))


def _every_declared_parameter():
    return [(nb, name) for nb in runner.notebooks() for name in runner.declared_parameters(nb)]


@pytest.mark.parametrize(("nb", "name"), _every_declared_parameter(), ids=lambda x: getattr(x, "stem", x))
def test_every_notebook_parameter_refuses_a_wrong_type_before_any_run(nb, name, monkeypatch):
    import papermill as pm

    monkeypatch.setattr(pm, "execute_notebook", lambda *a, **k: pytest.fail("a notebook was executed"))
    with pytest.raises(ParameterError, match=name):
        runner.run([nb], runner.parse_params([f"{name}=not-a-number"]), strict=True)




# ----------------------------------------------------------------------------- every parameter, before any work
def _no_run(monkeypatch):
    import papermill as pm

    monkeypatch.setattr(pm, "execute_notebook", lambda *a, **k: pytest.fail("a notebook was executed"))


def _declared_ranges():
    """(notebook, parameter, allowed) for every parameter whose comment states a range."""
    out = []
    for nb in runner.notebooks():
        for name, spec in runner._inspect(nb).items():
            rule = params.allowed(spec.get("help", ""))
            if rule is not None and rule.lo is not None:
                out.append(pytest.param(nb, name, rule, id=f"{nb.stem}-{name}"))
    return out


def test_every_notebook_specific_parameter_states_what_it_allows():
    """A parameter beyond seed and replicates must say '(allowed: ...)' so the runner can check it."""
    silent = [f"{nb.stem}:{name}" for nb in runner.notebooks() for name, spec in runner._inspect(nb).items()
              if name not in runner.SHARED and params.allowed(spec.get("help", "")) is None]  # fmt: skip
    assert not silent, f"parameters without an (allowed: ...) clause in their comment: {silent}"


@pytest.mark.parametrize(("nb", "name", "rule"), _declared_ranges())
def test_out_of_range_value_stops_before_any_notebook_runs(nb, name, rule, monkeypatch):
    _no_run(monkeypatch)
    whole = float(rule.lo).is_integer() and float(rule.hi).is_integer()
    for bad in ((int(rule.hi) + 1, int(rule.lo) - 1) if whole else (rule.hi * 2, rule.lo - 1)):
        with pytest.raises(ParameterError, match=rf"{name}={bad!r} is not allowed") as caught:
            runner.run(runner.notebooks(), runner.parse_params([f"{name}={bad}"]))
        # seed and replicates are refused by their shared checks first; the others name the range
        assert name in runner.SHARED or f"allowed: {rule.text}" in str(caught.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused_naming_the_parameter_and_the_allowed_values(value, monkeypatch):
    _no_run(monkeypatch)
    with pytest.raises(ParameterError, match=r"subset_scale=.* 30_jain: it needs a finite number \(allowed: 0.1 to 5"):
        runner.run(runner.notebooks(), runner.parse_params([f"subset_scale={value}"]))


def test_make_all_with_a_bad_value_stops_at_once(monkeypatch):
    """The README's promise: `make all P='subset_scale=-1'` fails before the first notebook."""
    _no_run(monkeypatch)
    with pytest.raises(ParameterError, match=r"subset_scale=-1 is not allowed in 30_jain \(allowed: 0.1 to 5"):
        runner.run(runner.notebooks(), runner.parse_params(["subset_scale=-1"]))


@pytest.mark.parametrize(("pairs", "seed", "replicates", "match"), [
    (["seed=3", "seed=4"], None, None, r"P gives seed twice \(seed=3 and seed=4\)"),
    (["seed=3"], "4", None, r"SEED=4 and P='seed=3' both set seed: give it once"),
    (["replicates=10"], None, "20", r"REPLICATES=20 and P='replicates=10' both set replicates"),
    (["subset_scale=0.5", "subset_scale=0.7"], None, None, "P gives subset_scale twice"),
    (["=3"], None, None, "is not a parameter name"),
])  # fmt: skip
def test_duplicates_and_conflicts_are_refused(pairs, seed, replicates, match):
    with pytest.raises(ParameterError, match=match):
        runner.parse_params(pairs, seed=seed, replicates=replicates)


def test_seed_and_replicates_from_make_variables():
    assert runner.parse_params(["subset_scale=0.5"], seed="7", replicates="") == {"subset_scale": 0.5, "seed": 7}


@pytest.mark.parametrize(("name", "match"), [
    ("3", r"NB=3 is not a notebook number .*did you mean 30_jain\?"),
    ("descart", r"matches several notebooks: 10_descart_outcomes, 11_descart_prognostic"),
    ("7", r"NB=7 is not a notebook number"),
])  # fmt: skip
def test_ambiguous_or_partial_notebook_names_are_refused_with_the_matches(name, match):
    with pytest.raises(runner.RunnerError, match=match):
        runner.resolve(name)


@pytest.mark.parametrize(("name", "stem"), [("30", "30_jain"), ("jain", "30_jain"), ("Figura", "20_figura"),
                                            ("11_descart_prognostic", "11_descart_prognostic")])  # fmt: skip
def test_a_unique_name_part_finds_its_notebook(name, stem):
    assert runner.resolve(name).stem == stem


# ----------------------------------------------------------------------------- run records, pairs, lock, Ctrl-C
def _tiny_pair(folder, name="01_tiny", body="x = seed"):
    """A tiny notebook and its py:percent pair, in step."""
    import jupytext

    py = folder / f"{name}.py"
    py.write_text(
        "# %% [markdown]\n# # tiny\n\n# %% tags=[\"parameters\"]\nseed: int = 1  # the seed (allowed: 0 to 9)\n"
        f"replicates: int = 2  # replicate count (allowed: 1 to 9)\n\n# %%\n{body}\n",
        encoding="utf-8",
    )
    nb = jupytext.read(py)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


def test_each_run_is_recorded_with_its_parameters(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "PROJ_ROOT", tmp_path)
    nb = tmp_path / "01_good.ipynb"
    _tiny_notebook(nb)
    runner.run([nb], {"seed": 5}, quiet=True)
    record = runner.runs(tmp_path / "reports")["01_good"]
    assert (record["seed"], record["replicates"], record["given"]) == (5, 2, ["seed"])
    assert record["seconds"] >= 0 and record["finished"]


def test_an_edited_py_pair_is_synced_before_the_run(tmp_path, monkeypatch, capsys):
    import os

    monkeypatch.setattr(paths, "PROJ_ROOT", tmp_path)
    nb = _tiny_pair(tmp_path)
    py = nb.with_suffix(".py")
    py.write_text(py.read_text(encoding="utf-8").replace("x = seed", "x = seed + 100\nprint(x)"), encoding="utf-8")
    os.utime(py, (nb.stat().st_mtime + 5, nb.stat().st_mtime + 5))  # edited after the notebook
    runner.run([nb], {"seed": 3})
    assert "synced 01_tiny.ipynb with its edited 01_tiny.py" in capsys.readouterr().out
    executed = nbformat.read(tmp_path / "reports" / "notebooks" / "01_tiny.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "103\n"  # the edit is what ran


def test_a_second_run_stops_at_once_naming_the_first(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "PROJ_ROOT", tmp_path)
    nb = tmp_path / "01_good.ipynb"
    _tiny_notebook(nb)
    with runner.run_lock(tmp_path / "reports", "make all"):
        with pytest.raises(runner.RunnerError, match=r"another run is writing reports/ \(make all, process \d+"):
            runner.run([nb], {}, quiet=True)
    runner.run([nb], {}, quiet=True)  # free again once the first ends


def test_ctrl_c_prints_one_line_and_keeps_the_last_good_reports(tmp_path):
    """A real SIGINT to the whole process group (as a terminal's Ctrl-C) while a notebook runs."""
    import os
    import signal
    import subprocess
    import sys
    import time

    _tiny_pair(tmp_path, "01_slow", "import pathlib, time\npathlib.Path('started').touch()\ntime.sleep(60)")
    (tmp_path / "reports" / "tables").mkdir(parents=True)
    (tmp_path / "reports" / "tables" / "kept.csv").write_text("last good\n")
    code = (f"import sys; from pathlib import Path; from helpers import paths, runner; "
            f"paths.PROJ_ROOT = paths.NOTEBOOKS = Path({str(tmp_path)!r}); sys.exit(runner.main(['notebook', '01']))")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = time.time() + 120
    while not (tmp_path / "started").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == runner.INTERRUPTED  # one line, no traceback
    assert (tmp_path / "reports" / "tables" / "kept.csv").read_text() == "last good\n"
    assert not list((tmp_path / "reports").glob(".staging-*"))


def test_refresh_of_one_notebook_stores_only_that_one(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "PROJ_ROOT", tmp_path)
    monkeypatch.setattr(paths, "NOTEBOOKS", tmp_path)
    a, b = _tiny_pair(tmp_path, "01_a"), _tiny_pair(tmp_path, "02_b")
    before = b.read_text(encoding="utf-8")
    runner.refresh([a])
    assert nbformat.read(a, as_version=4).cells[-1].get("execution_count")  # stored executed
    assert b.read_text(encoding="utf-8") == before


def test_a_single_paper_notebook_is_followed_by_the_scorecard(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(paths, "PROJ_ROOT", tmp_path)
    monkeypatch.setattr(paths, "NOTEBOOKS", tmp_path)
    writes_rows = "from helpers import paths\n(paths.results_dir() / '30_x.csv').write_text('a\\n1\\n')"
    paper = _tiny_pair(tmp_path, "30_x", writes_rows)
    _tiny_pair(tmp_path, runner.SCORECARD, "y = 1")
    runner.run([paper], {}, scorecard=True)
    assert f"ran {runner.SCORECARD}.ipynb" in capsys.readouterr().out
    assert set(runner.runs(tmp_path / "reports")) == {"30_x", runner.SCORECARD}


def test_written_conclusions_carry_a_note_only_when_the_run_moved_a_used_parameter():
    from helpers import notebook

    defaults = runner.defaults(runner.resolve("30"))
    notebook.start(**defaults)
    assert notebook.prose_note("30_jain") is None
    notebook.start(**{**defaults, "subset_scale": 0.5})
    assert "`subset_scale=0.5`" in notebook.prose_note("30_jain").data
    notebook.start(**{**runner.defaults(runner.resolve("00")), "replicates": 7})
    assert notebook.prose_note("00_ledger") is None  # the ledger notebook does not use replicates
