"""One settings object for every paper: printed inputs, assumed values, calibrated parameters.

A paper's simulator reads everything through ``Settings`` (PySDM's ``settings.py`` is the
model): ``settings["burden_loading"]`` finds a name among the calibrated parameters, then the
assumed values, then the printed design, so a model never needs to know where a number came
from, and the three sources stay apart for display, sensitivity and provenance:

- ``design``: printed counts and sizes the simulator takes as given, read from the ledger by
  the paper's ``settings.design()`` (only the items in its ``INPUTS``);
- ``assumed``: ``data/assumed/<paper>.yaml``, with any overrides (an unknown name is an error);
- ``calibrated``: ``data/calibrated/<paper>.json`` (or parameters being fitted);
- ``n_multiplier``: every printed size times this (large calibration and sensitivity cohorts).

``Settings`` is immutable: ``replace``, ``with_calibrated`` and ``scaled`` return new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from dataclasses import replace as _replace
from typing import Any

from . import assumptions
from .params import ParameterError, check_positive


@dataclass(frozen=True)
class Settings(Mapping):
    paper: str
    assumed: Mapping[str, Any]
    calibrated: Mapping[str, Any] = field(default_factory=dict)
    design: Mapping[str, Any] = field(default_factory=dict)
    n_multiplier: int = 1

    def __getitem__(self, name: str) -> Any:
        for source in (self.calibrated, self.assumed, self.design):
            if name in source:
                return source[name]
        raise KeyError(f"{self.paper} settings have no {name!r} (calibrated, assumed or design); "
                       f"known: {', '.join(sorted(self))}")  # fmt: skip

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self.calibrated, *self.assumed, *self.design]))

    def __len__(self) -> int:
        return len(set(self.calibrated) | set(self.assumed) | set(self.design))

    def replace(self, **overrides: Any) -> Settings:
        """New settings with assumed (or calibrated) values changed; unknown names are an error."""
        assumed, calibrated = dict(self.assumed), dict(self.calibrated)
        for name, value in overrides.items():
            if name in calibrated:
                calibrated[name] = value
            elif name in assumed:
                assumed[name] = value
            else:
                raise ParameterError(f"{self.paper} has no assumption or calibrated parameter {name!r}; "
                                     f"known: {', '.join(sorted([*assumed, *calibrated]))}")  # fmt: skip
        return _replace(self, assumed=assumed, calibrated=calibrated)

    def with_calibrated(self, params: Mapping[str, Any]) -> Settings:
        """New settings whose calibrated parameters are ``params`` (a fit in progress, a refit)."""
        return _replace(self, calibrated=dict(params))

    def scaled(self, n_multiplier: int) -> Settings:
        """Every printed size times ``n_multiplier`` (an integer >= 1)."""
        return _replace(self, n_multiplier=check_positive("n_multiplier", n_multiplier, integer=True))


def build(paper: str, design: Mapping[str, Any], *, overrides: Mapping[str, Any] | None = None,
          calibrated: Mapping[str, Any] | None = None, n_multiplier: int = 1,
          load_calibrated: Callable[[], Mapping[str, Any]] | None = None) -> Settings:  # fmt: skip
    """Settings of ``paper``: its design, its assumptions (with overrides), its calibration.

    ``calibrated``: parameters to use instead of the committed fit (``load_calibrated`` reads the
    committed one when none are given; a paper without a calibration passes neither).
    """
    assumed = assumptions.load(paper, dict(overrides or {}))
    if calibrated is None:
        calibrated = load_calibrated() if load_calibrated is not None else {}
    return Settings(paper, assumed, dict(calibrated), dict(design), check_positive("n_multiplier", n_multiplier, integer=True))
