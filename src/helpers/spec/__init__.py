"""A paper from its printed numbers and a short study spec: the generic paper package.

A paper with ``data/specs/<paper>.yaml`` and no ``src/helpers/<paper>/`` package follows the
paper contract (``helpers.study``) through this package: ``bind(paper, name)`` returns the
contract module ``name`` (settings, model, calibration, analysis, figures) bound to the paper, and
``helpers.contract.module`` hands it out wherever a paper's modules are looked up (``study.run``,
provenance, ``python -m helpers.calibrate``). Nothing about the study is written in Python.

- ``schema``: the spec format (pydantic) and the Python API to build and write one;
- ``plan``: the spec checked against the ledger and assumptions, items turned into analysis plans;
- ``settings``, ``model``, ``calibration``, ``analysis``, ``figures``: the contract, generically;
- ``scaffold``: ``make new-paper NAME=<paper>``.

The format, with a worked example, is in ``docs/add_a_paper.md``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

CONTRACT = ("settings", "model", "calibration", "analysis", "figures")


def _bound(fn, paper: str):
    def bound(*args, **kwargs):
        return fn(paper, *args, **kwargs)

    bound.__name__, bound.__qualname__, bound.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return bound


def bind(paper: str, name: str) -> ModuleType | None:
    """The contract module ``name`` of a spec paper (None for a module the paper does not have:
    ``calibration`` when the spec fits nothing). Validates the spec first (``SpecError``)."""
    from . import analysis, calibration, figures, model, settings
    from .plan import load

    plan = load(paper)
    mod = ModuleType(f"helpers.spec[{paper}].{name}", f"{name} of {paper}, from data/specs/{paper}.yaml")
    attrs: dict[str, Any]
    if name == "settings":
        attrs = {"INPUTS": plan.inputs, "design": _bound(settings.design, paper), "load": _bound(settings.load, paper)}
    elif name == "model":
        attrs = {"INPUTS": plan.inputs, "simulate": model.simulate}
    elif name == "calibration":
        if not plan.free:
            return None
        attrs = {"TARGETS": plan.targets, "FREE": plan.free, "SETTINGS": calibration.fit_settings(paper),
                 "calibrate": _bound(calibration.calibrate, paper)}  # fmt: skip
    elif name == "analysis":
        attrs = {"rederive": analysis.rederive, "analyse": analysis.analyse, "REASONS": dict(plan.spec.reasons)}
    elif name == "figures":
        attrs = {"survival": _bound(figures.survival, paper), "ratios": _bound(figures.ratios, paper)}
    else:
        return None
    mod.__dict__.update(attrs)
    return mod


def fitted(paper: str):
    """The committed calibration of a spec paper as a table (printed vs fitted per target, then the
    fitted parameters), or a one-line note when the spec fits nothing."""
    import pandas as pd

    from .. import calibrate
    from .plan import load

    if not load(paper).free:
        return pd.DataFrame({"note": ["nothing is fitted: the spec declares no free parameters"]})
    fit = calibrate.load(paper)
    targets = pd.DataFrame(fit["targets"]).set_index(["claim_id", "item"])
    params = pd.DataFrame({"fitted": fit["params"]}).rename_axis("parameter").reset_index()
    params = params.assign(claim_id="(parameter)", item=params.parameter).set_index(["claim_id", "item"])
    out = pd.concat([targets, params[["fitted"]]])
    return out.assign(converged=fit.get("converged", "")).round(4)
