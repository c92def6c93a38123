"""docs/workshop.md cannot drift from the code: every exercise's command names a notebook and
parameters the notebooks take, within what they allow, and every exercise says what it shows in a
check that `make workshop-check` (CI) runs for real."""

import pytest

from helpers import ledger, runner, workshop

EXERCISES = workshop.parse()
IDS = [ex.key for ex in EXERCISES]


def test_the_guide_has_exercises_for_every_notebook_block():
    sections = {ex.key.split(".")[0] for ex in EXERCISES}
    assert {"00", "01", "10/11", "20", "30", "40", "90"} <= sections


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_every_exercise_says_what_it_shows(ex):
    verbs = {verb for verb, _ in ex.checks}
    assert verbs & {"says", "shows", "report", "ran"}, f"{ex.key} has no check of what it shows"
    assert verbs <= {"exit", "says", "shows", "report", "ran", "edit"}


@pytest.mark.parametrize("ex", [e for e in EXERCISES if e.commands], ids=[e.key for e in EXERCISES if e.commands])
def test_every_command_is_valid_as_written(ex):
    for command in ex.commands:
        workshop.dry_run(command)  # raises on an unknown notebook, parameter, type or range


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_checked_notebooks_and_edits_exist(ex):
    for verb, args in ex.checks:
        if verb in ("shows", "ran"):
            runner.resolve(args[0])
        if verb == "edit":
            assert args[0] in workshop.EDITS


def test_a_drifted_command_is_caught():
    with pytest.raises(Exception, match="sensitivity_replicates"):
        workshop.dry_run("make notebook NB=20 P='sensitivity_replicates=50'")
    with pytest.raises(Exception, match="not a notebook number"):
        workshop.dry_run("make notebook NB=3")


def test_the_hand_edit_breaks_the_ledger_as_the_exercise_says_and_is_undone(scratch_data):
    before = (scratch_data / "reported" / "figura.yaml").read_text(encoding="utf-8")
    undo = workshop.EDITS["swap-fig06-ci"]()
    ledger.clear_caches()
    with pytest.raises(ledger.LedgerError, match=r"figura.yaml: claim FIG-06, .*lower bound"):
        ledger.load_paper("figura")
    undo()
    assert (scratch_data / "reported" / "figura.yaml").read_text(encoding="utf-8") == before


def test_verify_reports_what_an_exercise_does_not_show(tmp_path):
    ex = workshop.Exercise("x.1", "", ["make notebook NB=30"], [("exit", ["0"]), ("says", ["hello"])])
    assert workshop.verify(ex, tmp_path, [(0, "hello there")]) == []
    assert workshop.verify(ex, tmp_path, [(2, "bye")]) == ["exit codes [2], expected 0", "output does not say 'hello'"]
