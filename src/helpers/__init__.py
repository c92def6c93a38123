"""Helpers for re-deriving the headline numbers of four CAR T-failure studies.

The package is organised along the pipeline:
reported (``ledger``) -> assumed (``assumptions``) -> calibrated -> simulated (per-paper
modules) -> re-derived (``kernels``, per-paper analyses) -> compared (``results``,
``replicate``) -> reported on (``scorecard``, ``report``).
"""

__version__ = "0.1.0"
