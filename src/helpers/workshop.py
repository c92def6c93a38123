"""``make workshop-check``: every exercise of ``docs/workshop.md``, run as written and checked.

An exercise is a numbered item under a ``### NN · Title`` heading. Its commands are the
``make ...`` snippets in backticks (templates with ``<...>`` are not commands), run in order from
the project folder. What the exercise says it shows is written beside it in an HTML comment that
a reader of the rendered guide does not see::

    <!-- check: edit swap-fig06-ci | exit 2 | says "figura.yaml" | shows 30_jain "power" -->

- ``exit N``: every command of the exercise exits with N (default 0);
- ``says "text"``: their output (stdout and stderr) holds text;
- ``shows NB "text"``: the executed notebook NB in ``reports/notebooks/`` holds text in an output;
- ``report "text"``: ``reports/index.html`` holds text;
- ``ran NB name=value``: NB's last run (``reports/runs/NB.json``) had that parameter value;
- ``edit NAME``: a hand edit the exercise asks for (``EDITS``), made before its commands and undone
  after.

The check first runs ``make all``, as the guide asks before a session. ``reports/`` is set aside
first and put back at the end, so a local run leaves the last good outputs as they were.
``parse`` and ``dry_run`` (used by ``tests/test_workshop.py`` in ``make test``) check every
command's notebook and parameters against the notebooks without running anything.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import paths, runner

GUIDE = paths.DOCS / "workshop.md"
_HEADING = re.compile(r"^### (\S+) · ", re.M)
_ITEM = re.compile(r"^(\d+)\. ", re.M)
_COMMAND = re.compile(r"`(make [^`<>]+)`")
_CHECK = re.compile(r"<!-- check: (.*?) -->", re.S)


class WorkshopError(ValueError):
    """The guide is malformed, or an exercise does not do what it says."""


@dataclass
class Exercise:
    key: str  # "30.1"
    text: str
    commands: list[str] = field(default_factory=list)
    checks: list[tuple[str, list[str]]] = field(default_factory=list)  # (verb, arguments)


def parse(text: str | None = None) -> list[Exercise]:
    """The exercises of the guide, in order, each with its commands and checks."""
    text = GUIDE.read_text(encoding="utf-8") if text is None else text
    body = text.split("## Exercises", 1)[-1]
    out = []
    heads = list(_HEADING.finditer(body))
    for h, nxt in zip(heads, [*heads[1:], None], strict=True):
        section = body[h.end(): nxt.start() if nxt else len(body)]
        items = list(_ITEM.finditer(section))
        for i, inext in zip(items, [*items[1:], None], strict=True):
            item = section[i.start(): inext.start() if inext else len(section)]
            ex = Exercise(f"{h.group(1)}.{i.group(1)}", item.strip())
            ex.commands = [" ".join(c.split()) for c in _COMMAND.findall(_CHECK.sub("", item))]
            for block in _CHECK.findall(item):
                for clause in block.split("|"):
                    words = shlex.split(clause)
                    if words:
                        ex.checks.append((words[0], words[1:]))
            out.append(ex)
    return out


def make_variables(command: str) -> tuple[str, dict[str, str]]:
    """'make notebook NB=30 P='a=1'' -> ('notebook', {'NB': '30', 'P': 'a=1'})."""
    words = shlex.split(command)
    target = next((w for w in words[1:] if "=" not in w), "")
    return target, dict(w.split("=", 1) for w in words[1:] if "=" in w)


def dry_run(command: str) -> list[Path]:
    """Check a guide command against the notebooks without running it: its notebook exists, each
    parameter is one the notebook takes, of the right type and within what it allows."""
    target, var = make_variables(command)
    if target == "all":
        nbs = runner.notebooks()
    elif target == "notebook" or (target in ("help-notebook", "refresh") and var.get("NB")):
        nbs = [runner.resolve(var.get("NB", ""))]
    else:
        return []
    if target in ("notebook", "all"):
        params = runner.parse_params(var.get("P", "").split(), seed=var.get("SEED"), replicates=var.get("REPLICATES"))
        runner.check(nbs, params, strict=target == "notebook")
    return nbs


# ----------------------------------------------------------------------------- hand edits
def _swap_fig06_ci() -> Callable[[], None]:
    """Exercise 00.2: swap lo and hi of FIG-06's odds ratio in the Figura ledger."""
    path = paths.REPORTED / "figura.yaml"
    original = path.read_text(encoding="utf-8")
    start = original.index("claim_id: FIG-06")
    block_end = original.index("claim_id: FIG-07", start)
    block = original[start:block_end]
    lo, hi = re.search(r'lo: "([^"]+)"', block), re.search(r'hi: "([^"]+)"', block)
    swapped = block.replace(lo.group(0), f'lo: "{hi.group(1)}"').replace(hi.group(0), f'hi: "{lo.group(1)}"')
    path.write_text(original[:start] + swapped + original[block_end:], encoding="utf-8")
    return lambda: path.write_text(original, encoding="utf-8")


EDITS: dict[str, Callable[[], Callable[[], None]]] = {"swap-fig06-ci": _swap_fig06_ci}


# ----------------------------------------------------------------------------- checking
def notebook_text(root: Path, name: str) -> str:
    """Every output of an executed notebook under ``root/notebooks`` as one text."""
    path = root / "notebooks" / f"{runner.resolve(name).stem}.ipynb"
    if not path.exists():
        return ""
    parts = []
    for cell in nbformat.read(path, as_version=4).cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts += [str(data.get(k, "")) for k in ("text/plain", "text/html", "text/markdown")]
    return "\n".join(parts)


def verify(ex: Exercise, root: Path, outputs: list[tuple[int, str]]) -> list[str]:
    """What an exercise said it shows and does not: one line per failed check."""
    failed = []
    codes = {code for code, _ in outputs}
    expected = next((int(args[0]) for verb, args in ex.checks if verb == "exit"), 0)
    if outputs and codes != {expected}:
        failed.append(f"exit codes {sorted(codes)}, expected {expected}")
    said = "\n".join(text for _, text in outputs)
    for verb, args in ex.checks:
        if verb == "says" and args[0] not in said:
            failed.append(f"output does not say {args[0]!r}")
        elif verb == "shows" and args[1] not in notebook_text(root, args[0]):
            failed.append(f"{args[0]} does not show {args[1]!r}")
        elif verb == "report":
            index = root / "index.html"
            if not index.exists() or args[0] not in index.read_text(encoding="utf-8"):
                failed.append(f"reports/index.html does not hold {args[0]!r}")
        elif verb == "ran":
            record = runner.runs(root).get(runner.resolve(args[0]).stem, {})
            name, value = args[1].split("=", 1)
            if str(record.get(name)) != str(runner.typed_value(value)):
                failed.append(f"{args[0]} last ran with {name}={record.get(name)!r}, not {value}")
        elif verb not in ("exit", "says", "shows", "report", "ran", "edit"):
            failed.append(f"unknown check {verb!r}")
    return failed


def run_all(exercises: list[Exercise], root: Path) -> list[tuple[Exercise, float, list[str]]]:
    results = []
    for ex in exercises:
        undo = [EDITS[args[0]]() for verb, args in ex.checks if verb == "edit"]
        t0 = time.perf_counter()
        try:
            outputs = []
            for command in ex.commands:
                done = subprocess.run(shlex.split(command), cwd=paths.PROJ_ROOT, capture_output=True, text=True)
                outputs.append((done.returncode, done.stdout + done.stderr))
        finally:
            for u in undo:
                u()
        failed = verify(ex, root, outputs)
        seconds = time.perf_counter() - t0
        results.append((ex, seconds, failed))
        print(f"  {ex.key:<6} {'ok' if not failed else 'FAILED':<7} {seconds:6.1f} s  "
              f"{'; '.join(ex.commands) or '(reads the last run)'}", flush=True)  # fmt: skip
        for f in failed:
            print(f"           {f}", flush=True)
    return results


def main() -> int:
    exercises = parse()
    try:
        for ex in exercises:
            for command in ex.commands:
                dry_run(command)
    except Exception as exc:  # noqa: BLE001 - any refusal is the guide drifting from the code
        print(f"error: docs/workshop.md: {exc}", file=sys.stderr)
        return 2
    root = paths.PROJ_ROOT / "reports"
    saved = root.with_name("reports.saved-by-workshop-check")
    if saved.exists():
        print(f"error: {saved} exists (left by an interrupted check): put it back as reports/ or remove it",
              file=sys.stderr)
        return 2
    if root.exists():
        root.rename(saved)
        print(f"reports/ set aside as {saved.name}; it is put back at the end")
    try:
        print("preparing as the guide says: make all", flush=True)
        prep = subprocess.run(["make", "all"], cwd=paths.PROJ_ROOT, capture_output=True, text=True)
        if prep.returncode:
            print(prep.stdout + prep.stderr, file=sys.stderr)
            return 1
        results = run_all(exercises, root)
    finally:
        if saved.exists():
            shutil.rmtree(root, ignore_errors=True)
            saved.rename(root)
    bad = [ex.key for ex, _, failed in results if failed]
    print(f"exercises took {sum(s for _, s, _ in results):.0f} s" + (f"; failed: {', '.join(bad)}" if bad else ""))
    print(f"workshop: {len(results) - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
