"""Run the notebooks with papermill: all of them (``make all``), one (``make notebook``), or store
executed copies as the committed ones (``make refresh [NB=..]``).

Before any notebook starts, every parameter given is checked against every notebook that takes
it (type, a finite number, and the ``(allowed: ...)`` clause of its comment), a name given twice
or by both ``SEED=``/``REPLICATES=`` and ``P=`` is refused, and a notebook whose ``.py`` pair was
edited is synced (jupytext) so the run uses what was edited. Every run writes into a staging
folder under ``reports/`` and moves its contents into place only when every notebook succeeded:
a failed or interrupted run leaves the last good outputs as they were. One run at a time: a
second one stops at once, naming the first (a lock file). Each notebook's run is recorded in
``reports/runs/<notebook>.json`` (seed, replicates, other parameters, seconds, time) so the report
can say where each number comes from. A single paper notebook is followed by the scorecard
notebook, so the scorecard gathers the rows just written.
"""

from __future__ import annotations

import argparse
import ast
import fcntl
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import paths
from .io import write_text_atomic
from .params import ParameterError, check_declared, check_replicates, check_seed

if TYPE_CHECKING:  # nbformat is imported where used: its jsonschema import alone takes ~3 s (a grammar
    import nbformat  # built at import), which the report, reading only run records, need not pay

VOLATILE_METADATA = ("papermill", "execution")
SHARED = ("seed", "replicates")  # every notebook takes these two (tests/test_notebooks.py)
SCORECARD = "90_scorecard"  # gathers every paper notebook's rows
PARALLEL_NOTEBOOKS = int(os.environ.get("CART_PARALLEL_NOTEBOOKS", "2"))  # notebooks run side by side
LOCK = ".run.lock"
INTERRUPTED = "interrupted: nothing of this run was kept; reports/ still holds the last good run, intact"
# Libraries that log while a kernel is shut down under them (Ctrl-C): their failures reach the user
# as RunnerError messages instead, so their log lines are not shown during a run.
QUIET_LOGGERS = ("papermill", "asyncio", "traitlets")


class RunnerError(RuntimeError):
    """A notebook could not be found or did not run; the message says which and why."""


def notebooks() -> list[Path]:
    """The numbered notebooks, in pipeline order."""
    return sorted(p for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def resolve(name: str) -> Path:
    """A notebook from its number ('20'), its name ('20_figura') or a part of the name found in
    one notebook only ('figura'); a number matches only a whole notebook number."""
    nbs = notebooks()
    name = name.strip()
    valid = ", ".join(p.stem for p in nbs)
    if not name:
        raise RunnerError(f"give a notebook: NB=<number or name>; valid names: {valid}")
    exact = [p for p in nbs if name in (p.stem, p.name, p.stem.split("_")[0])]
    if exact:
        return exact[0]
    if name.isdigit():
        near = [p.stem for p in nbs if p.stem.startswith(name)]
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        raise RunnerError(f"NB={name} is not a notebook number (numbers have two digits){hint} Valid names: {valid}")
    hits = [p for p in nbs if name.lower() in p.stem.lower()]
    if len(hits) > 1:
        raise RunnerError(f"NB={name!r} matches several notebooks: {', '.join(p.stem for p in hits)}; "
                          "give its number or full name")  # fmt: skip
    if not hits:
        raise RunnerError(f"NB={name!r} is not a notebook; valid names: {valid}")
    return hits[0]


def declared_parameters(path: Path) -> dict[str, str]:
    """Names (and one-line help) of the parameters a notebook declares in its `parameters` cell."""
    return {k: v.get("help", "") for k, v in _inspect(path).items()}


def _inspect(path: Path) -> dict[str, dict]:
    """The `parameters` cell as papermill's ``inspect_notebook`` reads it (name -> default, help,
    inferred_type_name; tested equal for every notebook), without importing papermill: that costs
    each kernel and the report about 2 s (its nbformat -> jsonschema import)."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    cell = next((c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return {}
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    lines = source.splitlines()
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            kind = ast.get_source_segment(source, node.annotation) if isinstance(node, ast.AnnAssign) else None
            comment = lines[node.end_lineno - 1][node.end_col_offset:].strip()
            out[target.id] = {"name": target.id, "inferred_type_name": kind or "None",
                              "default": "".join(part.strip() for part in  # a multi-line default on one line
                                                 ast.get_source_segment(source, node.value).splitlines()),
                              "help": comment.removeprefix("#").strip()}  # fmt: skip
    return out


def defaults(path: Path) -> dict[str, object]:
    """A notebook's parameters at their declared defaults."""
    return {k: _literal(v["default"]) for k, v in _inspect(path).items()}


def unused(path: Path) -> set[str]:
    """Parameters a notebook takes but does not use (its parameter comment says "not used here")."""
    return {k for k, v in _inspect(path).items() if "not used here" in (v.get("help") or "")}


def changed(name: str, params: dict) -> dict[str, object]:
    """Of ``params`` (a run's record or a kernel's values), those unlike notebook ``name``'s
    defaults and used by it: what makes its numbers differ from the committed notebook's."""
    path = paths.NOTEBOOKS / f"{name}.ipynb"
    if not path.exists():
        return {}
    declared, skip = defaults(path), unused(path)  # reading the parameters cell is cheap (_inspect)
    return {k: v for k, v in params.items() if k in declared and k not in skip and declared[k] != v}


def _literal(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


# ----------------------------------------------------------------------------- parameters
def parse_params(pairs: list[str], *, seed: str | None = None, replicates: str | None = None) -> dict[str, object]:
    """'name=value' strings (``P=``) plus ``SEED=``/``REPLICATES=`` -> typed values.

    A name given twice, or by both ``SEED=``/``REPLICATES=`` and ``P=``, is refused (no silent
    winner); seed and replicates are checked here, the rest against each notebook (``run``).
    """
    params: dict[str, object] = {}
    raw: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ParameterError(f"parameter {pair!r} must look like name=value")
        name, value = (s.strip() for s in pair.split("=", 1))
        if not name.isidentifier():
            raise ParameterError(f"parameter {pair!r}: {name!r} is not a parameter name")
        if name in params:
            raise ParameterError(f"P gives {name} twice ({name}={raw[name]} and {pair}): give each parameter once")
        params[name], raw[name] = typed_value(value), value
    for name, given in (("seed", seed), ("replicates", replicates)):
        if given is None or given == "":
            continue
        if name in params:
            raise ParameterError(f"{name.upper()}={given} and P='{name}={raw[name]}' both set {name}: give it once")
        params[name] = typed_value(given)
    if "seed" in params:
        check_seed(params["seed"])
    if "replicates" in params:
        check_replicates(params["replicates"])
    return params


def typed_value(raw: str) -> object:
    """'3' -> 3, '0.5' -> 0.5, 'true' -> True, anything else the text itself."""
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(raw.lower(), raw)


def check(nbs: list[Path], params: dict[str, object], strict: bool) -> dict[Path, dict]:
    """Per notebook, the parameters it takes, each checked against its declaration; an unknown
    name or a value outside what a notebook allows stops everything before any notebook runs."""
    per_nb, known = {}, set()
    for nb in nbs:
        spec = _inspect(nb)
        known |= set(spec)
        per_nb[nb] = {k: v for k, v in params.items() if k in spec}
        for name, value in per_nb[nb].items():
            d = spec[name]
            check_declared(name, value, kind=d.get("inferred_type_name", ""), help_text=d.get("help", ""),
                           default=d["default"], where=nb.stem)  # fmt: skip
        if strict and (unknown := sorted(set(params) - set(spec))):
            raise ParameterError(f"{nb.stem} has no parameter {', '.join(unknown)}; it takes: {', '.join(sorted(spec))}")
    if unknown := sorted(set(params) - known):
        raise ParameterError(f"no notebook takes parameter {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return per_nb


# ----------------------------------------------------------------------------- jupytext pairs
def _sources(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def sync_pairs(nbs: list[Path], *, quiet: bool = False) -> list[Path]:
    """Bring each notebook in step with its ``.py`` pair when the ``.py`` is newer and their cells
    differ (as ``jupytext --sync``: the .ipynb takes the edited cells and keeps its outputs), so an
    edit of the ``.py`` is what runs."""
    synced = []
    for nb in nbs:
        py = nb.with_suffix(".py")
        if not py.exists() or py.stat().st_mtime <= nb.stat().st_mtime:
            continue  # an edit of the .ipynb itself (JupyterLab pairs both) runs as it is
        import jupytext
        import nbformat
        from jupytext.combine import combine_inputs_with_outputs

        edited, stored = jupytext.read(py), nbformat.read(nb, as_version=4)
        if _sources(edited) == _sources(stored):
            continue
        try:  # what `jupytext --sync` does for a newer .py: its cells, the notebook's outputs
            nbformat.write(combine_inputs_with_outputs(edited, stored, fmt="py:percent"), nb)
        except Exception as exc:  # noqa: BLE001 - jupytext's own errors: say which file and the fix
            raise RunnerError(f"{nb.name} and its edited {py.name} differ and could not be synced ({exc}); "
                              f"run `.venv/bin/jupytext --sync {py}` and fix what it reports") from None  # fmt: skip
        synced.append(nb)
        if not quiet:
            print(f"  synced {nb.name} with its edited {py.name} (as jupytext --sync; outputs kept)", flush=True)
    return synced


# ----------------------------------------------------------------------------- one run at a time
@contextmanager
def run_lock(root: Path, what: str) -> Iterator[None]:
    """Hold ``reports/.run.lock`` for the run; a second run stops at once and names the first."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            who = fh.read().strip() or "another process"
            raise RunnerError(f"another run is writing reports/ ({who}); wait until it ends, then run again") from None
        fh.truncate(0)
        fh.write(f"{what}, process {os.getpid()}, started {datetime.now():%H:%M:%S}")
        fh.flush()
        try:
            yield
        finally:
            fh.truncate(0)
            fcntl.flock(fh, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------- running
def strip_volatile(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove metadata that differs between identical runs (timings, papermill bookkeeping)."""
    for key in VOLATILE_METADATA:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for key in VOLATILE_METADATA:
            cell.metadata.pop(key, None)
    return nb


def run(nbs: list[Path], params: dict[str, object], *, strict: bool = False, quiet: bool = False,
        scorecard: bool = False, what: str = "") -> Path:  # fmt: skip
    """Execute ``nbs`` in order into a staging folder; move outputs into ``reports/`` on success.

    ``scorecard``: after a notebook that wrote results rows, run the scorecard notebook too (at
    its defaults), so the scorecard and the report show the rows just written.
    """
    sync_pairs(nbs, quiet=quiet)  # first: an edited .py may declare a new parameter
    per_nb = check(nbs, params, strict)
    final = paths.PROJ_ROOT / "reports"
    what = what or "make " + ("all" if len(nbs) > 1 else f"notebook NB={nbs[0].stem}")
    with run_lock(final, what), _quiet_libraries():
        for stale in final.glob(".staging-*"):  # left by a run that was killed outright
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=final))
        os.environ[paths.REPORTS_ENV] = str(staging)
        os.environ["CART_NO_PROGRESS"] = "1"  # progress bars would be stored as stderr in the outputs
        try:
            _execute_all(nbs, per_nb, staging, quiet)
            rows_written = any((staging / "tables" / "results").glob("*.csv"))
            card = paths.NOTEBOOKS / f"{SCORECARD}.ipynb"
            if scorecard and rows_written and card.exists() and card not in nbs:
                _execute(card, {}, staging, quiet, note="(the scorecard gathers the rows just written)")
            _promote(staging, final)
        finally:
            os.environ.pop(paths.REPORTS_ENV, None)
            os.environ.pop("CART_NO_PROGRESS", None)
            shutil.rmtree(staging, ignore_errors=True)
    return final


def _execute_all(nbs: list[Path], per_nb: dict, staging: Path, quiet: bool) -> None:
    """Every notebook of ``nbs``, two at a time where there are several (the scorecard last, alone:
    it gathers the others' rows). A notebook spends much of its time on one core (kernel start,
    imports, fits, figures), so two side by side use the machine's two cores; each then runs its
    replicates in one worker process (their draws do not depend on the worker count: tested).
    The first failure stops the rest; the outputs of every notebook go to ``staging`` only."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    card = [nb for nb in nbs if nb.stem == SCORECARD]
    last = runs()  # longest first (by the last run's time): the pair finishes closer together
    rest = sorted((nb for nb in nbs if nb.stem != SCORECARD), key=lambda nb: -last.get(nb.stem, {}).get("seconds", 0))
    if PARALLEL_NOTEBOOKS < 2 or len(rest) < 2:
        card, rest = nbs, []
    with _environ(CART_WORKERS="1"), ThreadPoolExecutor(max_workers=PARALLEL_NOTEBOOKS) as pool:
        futures = [pool.submit(_execute, nb, per_nb[nb], staging, quiet) for nb in rest]
        try:
            for f in as_completed(futures):
                f.result()  # the first failure is raised here ...
        finally:
            for f in futures:
                f.cancel()  # ... and the notebooks not yet started never start
    for nb in card:
        _execute(nb, per_nb[nb], staging, quiet)


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Environment variables set for the block, then put back as they were."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _quiet_libraries() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _execute(nb: Path, given: dict[str, object], staging: Path, quiet: bool, note: str = "") -> None:
    import nbformat
    import papermill as pm
    from nbclient.exceptions import DeadKernelError

    t0 = time.perf_counter()
    out = staging / "notebooks" / nb.name
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(
            str(nb), str(out), parameters=given, cwd=str(nb.parent), kernel_name="python3",
            progress_bar=False, log_output=False,
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],  # no TCP-transport warning
        )  # fmt: skip
    except pm.PapermillExecutionError as exc:
        if exc.ename == "KeyboardInterrupt":
            raise KeyboardInterrupt from None
        raise RunnerError(
            f"{nb.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
            f"The outputs of the last good run in reports/ are unchanged; the failed copy is not kept."
        ) from None
    except DeadKernelError:
        raise RunnerError(f"{nb.name}: its Python kernel died (out of memory, or killed); the outputs of the last "
                          "good run in reports/ are unchanged") from None  # fmt: skip
    seconds = time.perf_counter() - t0
    nbformat.write(strip_volatile(nbformat.read(out, as_version=4)), out)
    html_page(out)  # here, beside the other notebook still running, not serially in the report
    record = {"notebook": nb.stem, **defaults(nb), **given, "given": sorted(given), "seconds": round(seconds, 1),
              "finished": datetime.now().isoformat(timespec="seconds")}  # fmt: skip
    (staging / "runs").mkdir(exist_ok=True)
    (staging / "runs" / f"{nb.stem}.json").write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
    if not quiet:
        print(f"  ran {nb.name:<32} {seconds:6.1f} s {note}".rstrip(), flush=True)


def html_page(nb: Path) -> Path:
    """An executed notebook's page for the report: ``<name>.html`` beside it, prompts hidden."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()  # one per page: pages are rendered from two threads at once
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    body, _ = exporter.from_filename(str(nb))
    target = nb.with_suffix(".html")
    write_text_atomic(body, target)
    return target


def _promote(staging: Path, final: Path) -> None:
    """Move each staged file over its counterpart in ``final`` (file by file, each a rename);
    Ctrl-C is held back meanwhile so the last good outputs are never half replaced."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for src in sorted(staging.rglob("*")):
            if src.is_file():
                dst = final / src.relative_to(staging)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
    finally:
        signal.signal(signal.SIGINT, previous)


def runs(root: Path | None = None) -> dict[str, dict]:
    """The last good run of each notebook (``reports/runs/<notebook>.json``)."""
    folder = (root or paths.PROJ_ROOT / "reports") / "runs"
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}


def refresh(nbs: list[Path] | None = None) -> None:
    """Re-run notebooks at their defaults and store the executed copies as the committed ones."""
    chosen = nbs or notebooks()
    final = run(chosen, {}, scorecard=nbs is not None, what="make refresh")
    for nb in chosen:
        shutil.copyfile(final / "notebooks" / nb.name, nb)
    print(f"refreshed {len(chosen)} committed notebook{'s' if len(chosen) > 1 else ''} from reports/notebooks/")
    if nbs is not None and (final / "tables" / "results" / f"{chosen[0].stem}.csv").exists():
        print("  its rows feed 00/01/90 too: refresh those (`make refresh`) if its numbers changed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.runner", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--seed", default=None, help="SEED= of make (refused if P= sets seed too)")
    shared.add_argument("--replicates", default=None, help="REPLICATES= of make")
    p_all = sub.add_parser("all", parents=[shared], help="run every notebook")
    p_all.add_argument("params", nargs="*", help="name=value parameters, e.g. subset_scale=0.5")
    p_one = sub.add_parser("notebook", parents=[shared], help="run one notebook (then the scorecard)")
    p_one.add_argument("name", help="notebook number or name, e.g. 20 or 20_figura")
    p_one.add_argument("params", nargs="*")
    p_help = sub.add_parser("help-notebook", help="list a notebook's parameters")
    p_help.add_argument("name")
    p_refresh = sub.add_parser("refresh", help="re-run at defaults and update the committed notebooks")
    p_refresh.add_argument("name", nargs="?", default="", help="one notebook (default: all)")
    sub.add_parser("list", help="list the notebooks")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print("\n".join(p.stem for p in notebooks()))
        elif args.command == "help-notebook":
            for name, doc in declared_parameters(resolve(args.name)).items():
                print(f"{name:<16} {doc}")
        elif args.command == "refresh":
            refresh([resolve(args.name)] if args.name.strip() else None)
        elif args.command == "notebook":
            params = parse_params(args.params, seed=args.seed, replicates=args.replicates)
            run([resolve(args.name)], params, strict=True, scorecard=True)
        else:
            params = parse_params(args.params, seed=args.seed, replicates=args.replicates)
            run(notebooks(), params)
    except (ParameterError, RunnerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        logging.disable(logging.CRITICAL)  # no "Task exception was never retrieved" at exit
        print(INTERRUPTED, file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
