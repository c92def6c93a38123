"""Moved to ``helpers.kernels.rank`` (general rank statistics are not about this paper).

Kept only as an alias because ``tests/test_validation.py`` (a shared test this branch may not
edit) still imports ``mann_whitney`` from here; delete this module once that import reads
``from helpers.kernels.rank import mann_whitney``.
"""

from ..kernels.rank import mann_whitney

__all__ = ["mann_whitney"]
