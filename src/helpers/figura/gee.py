"""Moved to ``helpers.kernels.gee`` (the GEE is general statistics, not about this paper).

Kept only because ``tests/test_validation.py`` (a shared file this branch may not edit) imports
``gee_exchangeable`` from here; delete this module once it imports from ``helpers.kernels.gee``.
"""

from ..kernels.gee import gee_exchangeable

__all__ = ["gee_exchangeable"]
