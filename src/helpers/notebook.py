"""Small things every notebook does the same way: its seed generator and its closing watermark."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd

from .params import check

WATERMARK_PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "lifelines", "matplotlib",
                      "seaborn", "joblib", "papermill")  # fmt: skip


def start(seed: int, replicates: int, **others) -> np.random.Generator:
    """Check the parameters (fail before any work) and return the notebook's one generator."""
    check(seed, replicates, **others)
    # show whole tables (a reader scrolls; a truncated "..." hides numbers and drifts with pandas)
    pd.set_option("display.max_rows", 400)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 80)
    return np.random.default_rng(seed)


def watermark() -> pd.DataFrame:
    """Python and package versions, for the closing cell (ignored by nbval)."""
    rows = [("python", platform.python_version())]
    for name in WATERMARK_PACKAGES:
        try:
            rows.append((name, version(name)))
        except PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["package", "version"]).set_index("package")
