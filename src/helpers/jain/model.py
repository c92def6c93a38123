"""The generative model: 105 patients, latent standardised scores, assay subsets, observed scales.

Every latent score has variance 1 and is a linear combination of its parents plus its own
noise (a Gaussian structural model), so the correlation of any two scores follows from the
coefficients (``correlation``) and the calibration can work on them analytically.

Paths (arrows carry a coefficient; sign as written):
burden (metabolic tumor volume) -> ifn, mdsc, six serum inflammation markers;
ifn -> PD-L1, MHC-II, macrophage content, T-cell signature;
ifn, mdsc -| expansion (peak CAR T, lowered by both);
expansion -> liability <- burden and ifn (both lower it: burden as in Locke 2020, ifn through
local checkpoint ligands as the commentary suggests); durable response (DR) = liability above the
threshold that leaves ``durable_share`` of patients DR.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .settings import SUBSETS

INFLAMMATION = ("ferritin", "crp", "il6", "il15", "tnfa", "ang_ratio")
LATENTS = ("burden", "ifn", "mdsc", "expansion", "liability", "pdl1", "mhc2", "macrophage",
           "tcell", *INFLAMMATION)  # fmt: skip
# the path coefficients: the calibration fits five of them (calibration.FREE), the rest are
# assumptions in data/assumed/jain.yaml
ASSUMED = ("burden_on_ifn", "ifn_on_expansion", "burden_on_outcome", "ifn_on_outcome", "ifn_on_macrophage",
           "ifn_on_tcell", "burden_on_inflammation")  # fmt: skip


# every path coefficient (the five calibration.FREE ones and the assumed ones)
COEFFICIENTS = ("ifn_on_pdl1", "ifn_on_mhc2", "burden_on_mdsc", "mdsc_on_expansion", "expansion_on_outcome",
                *ASSUMED)  # fmt: skip


class ModelError(ValueError):
    """Coefficients that would need a latent score with variance above 1."""


def parents(coef: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Each latent score's parents and path coefficients."""
    infl = {m: {"burden": coef["burden_on_inflammation"]} for m in INFLAMMATION}
    return {
        "burden": {},
        "ifn": {"burden": coef["burden_on_ifn"]},
        "mdsc": {"burden": coef["burden_on_mdsc"]},
        "expansion": {"ifn": -coef["ifn_on_expansion"], "mdsc": -coef["mdsc_on_expansion"]},
        "liability": {"expansion": coef["expansion_on_outcome"], "burden": -coef["burden_on_outcome"],
                      "ifn": -coef["ifn_on_outcome"]},
        "pdl1": {"ifn": coef["ifn_on_pdl1"]},
        "mhc2": {"ifn": coef["ifn_on_mhc2"]},
        "macrophage": {"ifn": coef["ifn_on_macrophage"]},
        "tcell": {"ifn": coef["ifn_on_tcell"]},
        **infl,
    }


def loadings(coef: Mapping[str, float]) -> np.ndarray:
    """W with latent = W @ independent standard normals; rows have unit norm (unit variance)."""
    return _loadings(tuple(float(coef[c]) for c in COEFFICIENTS)).copy()


@lru_cache(maxsize=64)
def _loadings(values: tuple[float, ...]) -> np.ndarray:
    coef = dict(zip(COEFFICIENTS, values, strict=True))
    k = len(LATENTS)
    w = np.zeros((k, k))
    for j, (name, pa) in enumerate(parents(coef).items()):
        row = sum((c * w[LATENTS.index(p)] for p, c in pa.items()), np.zeros(k))
        rest = 1.0 - row @ row
        if rest <= 1e-9:
            raise ModelError(f"coefficients into {name!r} explain more than all of its variance ({1 - rest:.3f})")
        row[j] = np.sqrt(rest)
        w[j] = row
    return w


def correlation(coef: Mapping[str, float]) -> pd.DataFrame:
    w = loadings(coef)
    return pd.DataFrame(w @ w.T, index=LATENTS, columns=LATENTS)


MARKERS = ("mtv", "ifn_score", "pdl1_pct", "mhc2_pct", "macrophage_pct", "tcell_score",
           "mmdsc_pct", "peak_cart", *INFLAMMATION)  # fmt: skip
# which assay subset measures each observed marker
SUBSET_OF = {"mtv": "n_mtv", "ifn_score": "n_gene_expression", "tcell_score": "n_gene_expression",
             "macrophage_pct": "n_gene_expression", "pdl1_pct": "n_ihc", "mhc2_pct": "n_ihc",
             "mmdsc_pct": "n_mmdsc", "peak_cart": "n_cart", **dict.fromkeys(INFLAMMATION, "n_serum")}  # fmt: skip


# the scale each marker is analysed on by the log-scale alternatives (welch_log, pearson_log):
# gene-expression scores as they are, every positive marker on the log scale
SCORES = ("ifn_score", "tcell_score")


def analysis_scale(marker: str, values):
    """Values of ``marker`` on the scale the log-scale tests use (log, or the score itself)."""
    return values if marker in SCORES else np.log(values)


def observe(z: dict[str, np.ndarray], settings: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Latent scores -> markers on their clinical scales (monotone maps)."""
    s, t = settings["serum_scales"], settings["tumor_and_blood_scales"]
    out = {
        "mtv": settings["mtv_median"] * np.exp(settings["mtv_log_sd"] * z["burden"]),
        "ifn_score": z["ifn"],
        "pdl1_pct": 100 * special.expit(special.logit(t[0] / 100) + t[1] * z["pdl1"]),
        "mhc2_pct": 100 * special.expit(special.logit(t[2] / 100) + t[3] * z["mhc2"]),
        "macrophage_pct": t[4] * np.exp(t[5] * z["macrophage"]),
        "tcell_score": z["tcell"],
        "mmdsc_pct": t[6] * np.exp(t[7] * z["mdsc"]),
        "peak_cart": settings["peak_cart_median"] * np.exp(settings["peak_cart_log_sd"] * z["expansion"]),
    }
    for i, m in enumerate(INFLAMMATION):
        out[m] = s[2 * i] * np.exp(s[2 * i + 1] * z[m])
    return out


def sizes(settings) -> dict[str, int]:
    """Cohort and assay-subset sizes of one simulated study (printed and assumed sizes times
    ``settings.n_multiplier``; a subset never exceeds the cohort)."""
    k = getattr(settings, "n_multiplier", 1)
    n = int(settings["n_patients"]) * k
    return {"n_patients": n, **{s: int(min(n, int(settings[s]) * k)) for s in SUBSETS}}


COLUMNS = ("durable", *MARKERS)
SOURCE = {"n_gene_expression": "tumor", "n_ihc": "tumor", "n_mmdsc": "blood", "n_cart": "blood",
          "n_serum": "serum", "n_mtv": "pet"}  # fmt: skip


def simulate(rng: np.random.Generator, settings) -> pd.DataFrame:
    """One cohort: a row per patient, NaN where the assay was not done; ``durable`` is 1.0 for a
    durable responder (DR) and 0.0 otherwise (a float column: one float block builds fast).

    Subsets are random and nested: IHC within the gene-expression biopsies (one tumor order),
    M-MDSC within the CAR T measurements (one blood order); serum and PET each their own order.
    DR: the latent liability above the threshold that leaves ``durable_share`` of patients DR.
    """
    size = sizes(settings)
    n = size["n_patients"]
    zm = rng.standard_normal((n, len(LATENTS))) @ loadings(settings).T
    z = dict(zip(LATENTS, zm.T, strict=True))
    observed = observe(z, settings)
    order = {src: rng.permutation(n) for src in ("tumor", "blood", "serum", "pet")}
    out = np.empty((n, 1 + len(MARKERS)))
    out[:, 0] = z["liability"] > special.ndtri(1.0 - settings["durable_share"])  # = norm.isf, without scipy.stats overhead
    for j, marker in enumerate(MARKERS, start=1):
        subset = SUBSET_OF[marker]
        out[:, j] = np.where(order[SOURCE[subset]] < size[subset], observed[marker], np.nan)
    return pd.DataFrame(out, columns=COLUMNS)
