"""Small things every notebook does the same way: its seed generator and its closing watermark."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd

from .params import check

WATERMARK_PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "lifelines", "matplotlib",
                      "seaborn", "joblib", "papermill")  # fmt: skip


_PARAMS: dict[str, object] = {}  # this kernel's parameters, as ``start`` received them


def start(seed: int, replicates: int, **others) -> np.random.Generator:
    """Check the parameters (fail before any work) and return the notebook's one generator."""
    check(seed, replicates, **others)
    _PARAMS.clear()
    _PARAMS.update(seed=seed, replicates=replicates, **others)
    # show whole tables (a reader scrolls; a truncated "..." hides numbers and drifts with pandas)
    pd.set_option("display.max_rows", 400)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 80)
    return np.random.default_rng(seed)


def prose_note(name: str):
    """Above a notebook's written conclusions: nothing at the defaults; else a note that they
    describe the committed run, not this one (its numbers are the tables above)."""
    from IPython.display import Markdown

    from .runner import changed

    moved = changed(name, _PARAMS)
    if not moved:
        return None
    shown = ", ".join(f"`{k}={v}`" for k, v in moved.items())
    return Markdown(f"**This run moved {shown} from the defaults.** The conclusions below were written about the "
                    "default run; read this run's numbers from the tables above.")  # fmt: skip


def watermark() -> pd.DataFrame:
    """Python and package versions, for the closing cell (ignored by nbval)."""
    rows = [("python", platform.python_version())]
    for name in WATERMARK_PACKAGES:
        try:
            rows.append((name, version(name)))
        except PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["package", "version"]).set_index("package")
