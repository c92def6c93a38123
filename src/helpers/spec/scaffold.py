"""``make new-paper NAME=<paper> [PREFIX=<ID prefix>]``: a new paper's files, from templates.

Writes, from ``helpers/spec/templates/``:

- the claims-index entry (``data/reported/claims_index.yaml``: one placeholder claim ``PREFIX-01``);
- a ledger skeleton ``data/reported/<paper>.yaml`` (valid: one placeholder qualitative item);
- ``data/assumed/<paper>.yaml`` (the Cox ties choice every survival paper needs);
- a draft spec ``data/specs/<paper>.yaml`` (no groups yet: nothing is simulated);
- the notebook ``notebooks/NN_<paper>.py`` (NN: the next free number from 60 to 89) and its
  ``.ipynb``, executed once so that the committed copy has outputs;
- three placeholder questions in ``docs/journal_club_questions.yaml`` (the paper's journal-club sheet).

``--undo`` (``make new-paper NAME=<paper> UNDO=1``) removes all of it again while nothing has been
filled in (the ledger still holds only its placeholder item and the spec no groups): to start
over with another name or prefix. Once edited, the files are listed for removal by hand.

A registered draft breaks nothing: the ledger, audit, scorecard and report list it with its
placeholder, ``make calibrate`` skips it, and its notebook runs (every item not-rederived). After
it, run ``make refresh`` (the ledger, audit and scorecard notebooks now show one more paper).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path
from string import Template

import yaml

from .. import ledger, paths
from .plan import spec_path

TEMPLATES = Path(__file__).parent / "templates"
NUMBERS = range(60, 90)


class ScaffoldError(ValueError):
    """The paper cannot be scaffolded under that name (taken, malformed, clashes with a module)."""


PLACEHOLDER_CLAIM = "'TODO: the first claim in your own words'"
QUESTIONS = ["TODO: a question a journal club should ask of this paper"] * 3


def default_prefix(name: str) -> str:
    """The claim-ID prefix: the name's letters, upper case, cut to four when longer than six
    ("zuma1" -> "ZUMA", "smith" -> "SMITH", "nastoupil" -> "NAST")."""
    letters = re.sub(r"[^A-Za-z]", "", name).upper()
    return letters[:4] if len(letters) > 6 else letters


def _index_entry(name: str, prefix: str) -> str:
    return f"{name}:\n- claim_id: {prefix}-01\n  claim: {PLACEHOLDER_CLAIM}\n"


def _questions_entry(name: str) -> str:
    return f"{name}:\n" + "".join(f'  - "{q}"\n' for q in QUESTIONS)


def _append(path: Path, entry: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(text + ("" if not text or text.endswith("\n") else "\n") + entry, encoding="utf-8")


def next_number() -> int:
    taken = {int(p.name[:2]) for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.py")}
    free = [n for n in NUMBERS if n not in taken]
    if not free:
        raise ScaffoldError("notebook numbers 60 to 89 are all taken")
    return free[0]


def _check(name: str, prefix: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ScaffoldError(f"NAME={name!r}: use a short lower-case name (letters, digits, _), e.g. NAME=zuma1")
    if not re.fullmatch(r"[A-Z]+", prefix):
        raise ScaffoldError(f"PREFIX={prefix!r}: claim IDs are LETTERS-NN; give PREFIX=<upper-case letters>")
    papers, prefixes = ledger._registry()
    if name in papers:
        raise ScaffoldError(f"{name} is already registered in data/reported/claims_index.yaml")
    if prefix in prefixes.values():
        raise ScaffoldError(f"claim-ID prefix {prefix} is taken; choose another with PREFIX=...")
    if importlib.util.find_spec(f"helpers.{name}") is not None:
        raise ScaffoldError(f"helpers.{name} already exists (a module or package): choose another NAME")
    for path in (paths.REPORTED / f"{name}.yaml", paths.ASSUMED / f"{name}.yaml", spec_path(name)):
        if path.exists():
            raise ScaffoldError(f"{path} already exists; remove it or choose another NAME")


def new_paper(name: str, prefix: str | None = None, *, execute: bool = True) -> dict[str, Path]:
    """Write the new paper's files (see the module docstring); returns them by role."""
    prefix = prefix or default_prefix(name)
    _check(name, prefix)
    number = next_number()
    notebook = f"{number}_{name}"
    fill = {"paper": name, "prefix": prefix, "notebook": notebook, "number": str(number), "label": name}

    def render(template: str) -> str:
        return Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(fill)

    written = {
        "ledger": paths.REPORTED / f"{name}.yaml",
        "assumed": paths.ASSUMED / f"{name}.yaml",
        "spec": spec_path(name),
        "notebook": paths.NOTEBOOKS / f"{notebook}.py",
    }
    for role, template in (("ledger", "ledger.yaml"), ("assumed", "assumed.yaml"), ("spec", "spec.yaml"),
                           ("notebook", "notebook.py.template")):  # fmt: skip
        written[role].parent.mkdir(parents=True, exist_ok=True)
        written[role].write_text(render(template), encoding="utf-8")
    index = paths.REPORTED / "claims_index.yaml"
    _append(index, _index_entry(name, prefix))
    written["claims_index"] = index
    questions = paths.DOCS / "journal_club_questions.yaml"
    _append(questions, _questions_entry(name))
    written["questions"] = questions
    written["ipynb"] = _pair(written["notebook"], execute)
    return written


def undo(name: str) -> list[Path]:
    """Remove what ``new_paper(name)`` wrote, if nothing of it was filled in; returns what went."""
    papers, prefixes = ledger._registry()
    if name not in papers:
        raise ScaffoldError(f"{name} is not registered in data/reported/claims_index.yaml: nothing to undo")
    index, questions = paths.REPORTED / "claims_index.yaml", paths.DOCS / "journal_club_questions.yaml"
    files = [paths.REPORTED / f"{name}.yaml", paths.ASSUMED / f"{name}.yaml", spec_path(name),
             *sorted(paths.NOTEBOOKS.glob(f"[0-9][0-9]_{name}.py")), *sorted(paths.NOTEBOOKS.glob(f"[0-9][0-9]_{name}.ipynb"))]  # fmt: skip
    entry = _index_entry(name, prefixes[name])
    untouched = entry in index.read_text(encoding="utf-8") and _is_placeholder_ledger(name) and _is_draft_spec(name)
    if not untouched:
        listed = ", ".join(_shown(p) for p in files if p.exists())
        raise ScaffoldError(f"{name} has been filled in since `make new-paper`, so it is not removed automatically. "
                            f"To remove it by hand: delete {listed} and its entries in {index.name} and {questions.name}")  # fmt: skip
    for path in files:
        path.unlink(missing_ok=True)
    index.write_text(index.read_text(encoding="utf-8").replace(entry, ""), encoding="utf-8")
    if questions.exists():
        questions.write_text(questions.read_text(encoding="utf-8").replace(_questions_entry(name), ""), encoding="utf-8")
    return [*files, index, questions]


def _shown(path: Path) -> str:
    """A path as the user types it: relative to the project (the folder holding data/)."""
    root = paths.DATA.parent
    return str(path.relative_to(root) if path.is_relative_to(root) else path)


def _is_placeholder_ledger(name: str) -> bool:
    """Does the ledger still hold only the skeleton's one placeholder item?"""
    path = paths.REPORTED / f"{name}.yaml"
    if not path.exists():
        return True
    try:
        claims = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("claims") or []
        return [[i.get("item") for i in c.get("items", [])] for c in claims] == [["todo"]]
    except (yaml.YAMLError, AttributeError):  # a half-edited ledger is not the skeleton
        return False


def _is_draft_spec(name: str) -> bool:
    from .schema import SpecError, read

    try:
        return read(spec_path(name)).is_draft if spec_path(name).exists() else True
    except SpecError:
        return False


def _pair(py: Path, execute: bool) -> Path:
    """The notebook's .ipynb: converted with jupytext, then executed once (outputs stored)."""
    import jupytext
    import nbformat

    ipynb = py.with_suffix(".ipynb")
    nbformat.write(jupytext.read(py), ipynb)
    if execute:
        import shutil

        from .. import runner

        final = runner.run([ipynb], {}, quiet=True)
        shutil.copyfile(final / "notebooks" / ipynb.name, ipynb)
    return ipynb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.spec.scaffold", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("name", help="short lower-case name of the paper, e.g. zuma1")
    parser.add_argument("--prefix", help="claim-ID prefix (upper-case letters; default: the name's letters)")
    parser.add_argument("--no-execute", action="store_true", help="do not run the new notebook once")
    parser.add_argument("--undo", action="store_true", help="remove an unfilled scaffold (to start over)")
    args = parser.parse_args(argv)
    try:
        if args.undo:
            for path in undo(args.name):
                print(f"  removed/edited {_shown(path)}")
            return 0
        written = new_paper(args.name, args.prefix, execute=not args.no_execute)
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for role, path in written.items():
        print(f"  {role:<13} {_shown(path)}")
    prefix = args.prefix or default_prefix(args.name)
    print(f"Claim IDs: {prefix}-01, {prefix}-02, ... (another prefix: `make new-paper NAME={args.name} UNDO=1`, "
          f"then again with PREFIX=...).\nNext: fill the ledger, the assumptions and the spec (docs/add_a_paper.md); "
          f"`make check-paper NAME={args.name}` checks them and lists each number's role; then "
          f"`make notebook NB={written['notebook'].stem[:2]}` and `make refresh`.")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
