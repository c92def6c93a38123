"""``make new-paper NAME=<paper> [PREFIX=<ID prefix>]``: a new paper's files, from templates.

Writes, from ``helpers/spec/templates/``:

- the claims-index entry (``data/reported/claims_index.yaml``: one placeholder claim ``PREFIX-01``);
- a ledger skeleton ``data/reported/<paper>.yaml`` (valid: one placeholder qualitative item);
- ``data/assumed/<paper>.yaml`` (the Cox ties choice every survival paper needs);
- a draft spec ``data/specs/<paper>.yaml`` (no groups yet: nothing is simulated);
- the notebook ``notebooks/NN_<paper>.py`` (NN: the next free number from 60 to 89) and its
  ``.ipynb``, executed once so that the committed copy has outputs.

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

from .. import ledger, paths
from .plan import spec_path

TEMPLATES = Path(__file__).parent / "templates"
NUMBERS = range(60, 90)


class ScaffoldError(ValueError):
    """The paper cannot be scaffolded under that name (taken, malformed, clashes with a module)."""


def default_prefix(name: str) -> str:
    """The claim-ID prefix: the name's letters, upper case ("zuma1" -> "ZUMA")."""
    return re.sub(r"[^A-Za-z]", "", name).upper()


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
    text = index.read_text(encoding="utf-8")
    entry = f"{name}:\n- claim_id: {prefix}-01\n  claim: 'TODO: the first claim in your own words'\n"
    index.write_text(text + ("" if text.endswith("\n") else "\n") + entry, encoding="utf-8")
    written["claims_index"] = index
    written["ipynb"] = _pair(written["notebook"], execute)
    return written


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
    args = parser.parse_args(argv)
    try:
        written = new_paper(args.name, args.prefix, execute=not args.no_execute)
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    root = paths.PROJ_ROOT
    for role, path in written.items():
        print(f"  {role:<13} {path.relative_to(root) if path.is_relative_to(root) else path}")
    print(f"Next: fill the ledger, the spec and the assumptions (docs/add_a_paper.md), then "
          f"`make notebook NB={written['notebook'].stem[:2]}` and `make refresh`.")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
