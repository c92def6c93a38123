"""Run the notebooks with papermill: all of them (``make all``) or one (``make notebook``).

Every run writes into a staging folder under ``reports/`` and moves its contents into place only
when every notebook succeeded; a failed or interrupted run leaves the last good outputs as they
were. Parameters are checked before any notebook starts. ``refresh`` re-runs at default
parameters and stores the executed notebooks (volatile metadata removed) as the committed
copies that ``make test`` compares against.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from . import paths
from .params import ParameterError, check_replicates, check_seed

VOLATILE_METADATA = ("papermill", "execution")


class RunnerError(RuntimeError):
    """A notebook could not be found or did not run; the message says which and why."""


def notebooks() -> list[Path]:
    """The numbered notebooks, in pipeline order."""
    return sorted(p for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def resolve(name: str) -> Path:
    """A notebook from its number ('20'), its stem ('20_figura') or a unique part of the name."""
    nbs = notebooks()
    if not name.strip():
        raise RunnerError(f"give a notebook: NB=<number or name>; valid names: {', '.join(p.stem for p in nbs)}")
    hits = [p for p in nbs if name in (p.stem, p.name, p.stem[:2])] or [p for p in nbs if name in p.stem]
    if len(hits) != 1:
        valid = ", ".join(p.stem for p in nbs)
        what = "matches several notebooks" if hits else "is not a notebook"
        raise RunnerError(f"NB={name!r} {what}; valid names: {valid}")
    return hits[0]


def declared_parameters(path: Path) -> dict[str, str]:
    """Names (and one-line help) of the parameters a notebook declares in its `parameters` cell."""
    return {k: v.get("help", "") for k, v in _inspect(path).items()}


def _inspect(path: Path) -> dict[str, dict]:
    import papermill as pm

    return pm.inspect_notebook(str(path))


ACCEPTS = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


def _check_types(nb: Path, params: dict[str, object]) -> None:
    """A value of the wrong type for a notebook's typed parameter stops the run before any work."""
    for name, spec in _inspect(nb).items():
        accepted = ACCEPTS.get(spec.get("inferred_type_name", ""))
        if name in params and accepted and (
            not isinstance(params[name], accepted) or (bool not in accepted and isinstance(params[name], bool))
        ):
            raise ParameterError(
                f"{name}={params[name]!r} is not allowed in {nb.stem}: it takes {spec['inferred_type_name']} "
                f"(default {spec['default']}; {spec.get('help', '')})"
            )


def parse_params(pairs: list[str]) -> dict[str, object]:
    """'name=value' strings -> typed values (int, float, bool or str), checked where shared."""
    params: dict[str, object] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ParameterError(f"parameter {pair!r} must look like name=value")
        name, raw = pair.split("=", 1)
        params[name.strip()] = _typed(raw.strip())
    if "seed" in params:
        check_seed(params["seed"])
    if "replicates" in params:
        check_replicates(params["replicates"])
    return params


def _typed(raw: str) -> object:
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(raw.lower(), raw)


def _check_names(nbs: list[Path], params: dict[str, object], strict: bool) -> dict[Path, dict]:
    """Per notebook, the parameters it declares; an unknown name is an error before any work."""
    per_nb, known = {}, set()
    for nb in nbs:
        declared = declared_parameters(nb)
        known |= set(declared)
        per_nb[nb] = {k: v for k, v in params.items() if k in declared}
        _check_types(nb, per_nb[nb])
        if strict and (unknown := sorted(set(params) - set(declared))):
            raise ParameterError(
                f"{nb.stem} has no parameter {', '.join(unknown)}; it takes: {', '.join(sorted(declared))}"
            )
    if unknown := sorted(set(params) - known):
        raise ParameterError(f"no notebook takes parameter {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return per_nb


def strip_volatile(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove metadata that differs between identical runs (timings, papermill bookkeeping)."""
    for key in VOLATILE_METADATA:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for key in VOLATILE_METADATA:
            cell.metadata.pop(key, None)
    return nb


def run(nbs: list[Path], params: dict[str, object], *, strict: bool = False, quiet: bool = False) -> Path:
    """Execute ``nbs`` in order into a staging folder; move outputs into ``reports/`` on success."""
    import papermill as pm

    per_nb = _check_names(nbs, params, strict)
    final = paths.PROJ_ROOT / "reports"
    final.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=final))
    os.environ[paths.REPORTS_ENV] = str(staging)
    os.environ["CART_NO_PROGRESS"] = "1"  # progress bars would be stored as stderr in the outputs
    try:
        for nb in nbs:
            t0 = time.perf_counter()
            out = staging / "notebooks" / nb.name
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                pm.execute_notebook(
                    str(nb), str(out), parameters=per_nb[nb], cwd=str(nb.parent), kernel_name="python3",
                    progress_bar=False, log_output=False,
                    extra_arguments=["--IPKernelApp.log_level=CRITICAL"],  # no TCP-transport warning
                )  # fmt: skip
            except pm.PapermillExecutionError as exc:
                raise RunnerError(
                    f"{nb.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                    f"The outputs of the last good run in reports/ are unchanged; the failed copy is not kept."
                ) from None
            nbformat.write(strip_volatile(nbformat.read(out, as_version=4)), out)
            if not quiet:
                print(f"  ran {nb.name:<32} {time.perf_counter() - t0:6.1f} s", flush=True)
        _promote(staging, final)
    finally:
        os.environ.pop(paths.REPORTS_ENV, None)
        os.environ.pop("CART_NO_PROGRESS", None)
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _promote(staging: Path, final: Path) -> None:
    """Move each staged file over its counterpart in ``final`` (file by file, each a rename)."""
    for src in sorted(staging.rglob("*")):
        if src.is_file():
            dst = final / src.relative_to(staging)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)


def refresh() -> None:
    """Re-run every notebook at its defaults and store the executed copies as the committed ones."""
    final = run(notebooks(), {})
    for nb in notebooks():
        shutil.copyfile(final / "notebooks" / nb.name, nb)
    print(f"refreshed {len(notebooks())} committed notebooks from reports/notebooks/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.runner", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_all = sub.add_parser("all", help="run every notebook")
    p_all.add_argument("params", nargs="*", help="name=value parameters, e.g. seed=7 replicates=100")
    p_one = sub.add_parser("notebook", help="run one notebook")
    p_one.add_argument("name", help="notebook number or name, e.g. 20 or 20_figura")
    p_one.add_argument("params", nargs="*")
    p_help = sub.add_parser("help-notebook", help="list a notebook's parameters")
    p_help.add_argument("name")
    sub.add_parser("refresh", help="re-run at defaults and update the committed notebooks")
    sub.add_parser("list", help="list the notebooks")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print("\n".join(p.stem for p in notebooks()))
        elif args.command == "help-notebook":
            for name, doc in declared_parameters(resolve(args.name)).items():
                print(f"{name:<16} {doc}")
        elif args.command == "refresh":
            refresh()
        elif args.command == "notebook":
            run([resolve(args.name)], parse_params(args.params), strict=True)
        else:
            params = {k: v for k, v in parse_params(args.params).items() if v != ""}
            run(notebooks(), params)
    except (ParameterError, RunnerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
