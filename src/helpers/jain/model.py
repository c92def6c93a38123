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

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import special, stats

from ..params import ParameterError, check_fraction, check_positive

N_PATIENTS = 105  # JAIN-01 (printed cohort size)
INFLAMMATION = ("ferritin", "crp", "il6", "il15", "tnfa", "ang_ratio")
LATENTS = ("burden", "ifn", "mdsc", "expansion", "liability", "pdl1", "mhc2", "macrophage",
           "tcell", *INFLAMMATION)  # fmt: skip
# coefficients the calibration fits (the rest are assumptions in data/assumed/jain.yaml)
CALIBRATED = ("ifn_on_pdl1", "ifn_on_mhc2", "burden_on_mdsc", "mdsc_on_expansion",
              "expansion_on_outcome")  # fmt: skip
ASSUMED = ("burden_on_ifn", "ifn_on_expansion", "burden_on_outcome", "ifn_on_outcome", "ifn_on_macrophage",
           "ifn_on_tcell", "burden_on_inflammation")  # fmt: skip
SUBSETS = ("n_gene_expression", "n_ihc", "n_mmdsc", "n_cart", "n_serum", "n_mtv")


class ModelError(ValueError):
    """Coefficients that would need a latent score with variance above 1."""


def parents(coef: dict[str, float]) -> dict[str, dict[str, float]]:
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


def loadings(coef: dict[str, float]) -> np.ndarray:
    """W with latent = W @ independent standard normals; rows have unit norm (unit variance)."""
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


def correlation(coef: dict[str, float]) -> pd.DataFrame:
    w = loadings(coef)
    return pd.DataFrame(w @ w.T, index=LATENTS, columns=LATENTS)


@dataclass(frozen=True)
class Design:
    """Cohort size, outcome share and assay-subset sizes of one simulated study."""

    durable_share: float
    n_gene_expression: int
    n_ihc: int
    n_mmdsc: int
    n_cart: int
    n_serum: int
    n_mtv: int
    mmdsc_high_quantile: float = 0.5
    n_patients: int = N_PATIENTS

    @classmethod
    def from_assumed(cls, assumed: dict, subset_scale: float = 1.0,
                     durable_share: float | None = None) -> Design:  # fmt: skip
        """The assumed design, with every subset size multiplied by ``subset_scale`` (capped at 105)."""
        check_positive("subset_scale", subset_scale, upper=N_PATIENTS / 4)
        share = assumed["durable_share"] if durable_share is None else durable_share
        check_fraction("durable_share", share)
        if not 0.05 <= share <= 0.95:
            raise ParameterError(f"durable_share={share!r} is not allowed: use a number from 0.05 to 0.95")
        sizes = {k: int(min(N_PATIENTS, max(8, round(assumed[k] * subset_scale)))) for k in SUBSETS}
        return cls(durable_share=share, mmdsc_high_quantile=assumed["mmdsc_high_quantile"], **sizes)

    def scaled(self, factor: float) -> Design:
        sizes = {k: int(min(self.n_patients, max(8, round(getattr(self, k) * factor)))) for k in SUBSETS}
        return replace(self, **sizes)

    def groups(self, subset: str) -> tuple[float, float]:
        """Expected (DR, NDR) sizes within an assay subset."""
        n = getattr(self, subset)
        return n * self.durable_share, n * (1 - self.durable_share)


@dataclass(frozen=True)
class Scales:
    """Observed scales of the latent scores (ranks, and so every test, do not depend on them
    except the CAR T spread, which sets the fold changes)."""

    peak_cart_median: float
    peak_cart_log_sd: float
    mtv_median: float
    mtv_log_sd: float
    serum: tuple[float, ...]
    tumor_and_blood: tuple[float, ...]

    @classmethod
    def from_assumed(cls, assumed: dict) -> Scales:
        return cls(assumed["peak_cart_median"], assumed["peak_cart_log_sd"], assumed["mtv_median"],
                   assumed["mtv_log_sd"], tuple(assumed["serum_scales"]),
                   tuple(assumed["tumor_and_blood_scales"]))  # fmt: skip


MARKERS = ("mtv", "ifn_score", "pdl1_pct", "mhc2_pct", "macrophage_pct", "tcell_score",
           "mmdsc_pct", "peak_cart", *INFLAMMATION)  # fmt: skip
# which assay subset measures each observed marker
SUBSET_OF = {"mtv": "n_mtv", "ifn_score": "n_gene_expression", "tcell_score": "n_gene_expression",
             "macrophage_pct": "n_gene_expression", "pdl1_pct": "n_ihc", "mhc2_pct": "n_ihc",
             "mmdsc_pct": "n_mmdsc", "peak_cart": "n_cart", **dict.fromkeys(INFLAMMATION, "n_serum")}  # fmt: skip


def observe(z: pd.DataFrame, scales: Scales) -> pd.DataFrame:
    """Latent scores -> markers on their clinical scales (monotone maps)."""
    s, t = scales.serum, scales.tumor_and_blood
    out = {
        "mtv": scales.mtv_median * np.exp(scales.mtv_log_sd * z["burden"]),
        "ifn_score": z["ifn"],
        "pdl1_pct": 100 * special.expit(special.logit(t[0] / 100) + t[1] * z["pdl1"]),
        "mhc2_pct": 100 * special.expit(special.logit(t[2] / 100) + t[3] * z["mhc2"]),
        "macrophage_pct": t[4] * np.exp(t[5] * z["macrophage"]),
        "tcell_score": z["tcell"],
        "mmdsc_pct": t[6] * np.exp(t[7] * z["mdsc"]),
        "peak_cart": scales.peak_cart_median * np.exp(scales.peak_cart_log_sd * z["expansion"]),
    }
    for i, m in enumerate(INFLAMMATION):
        out[m] = s[2 * i] * np.exp(s[2 * i + 1] * z[m])
    return pd.DataFrame(out)


def simulate(rng: np.random.Generator, coef: dict[str, float], design: Design,
             scales: Scales) -> pd.DataFrame:  # fmt: skip
    """One cohort: a row per patient, NaN where the assay was not done, ``durable`` outcome.

    Subsets are random and nested: IHC within the gene-expression biopsies (one tumor order),
    M-MDSC within the CAR T measurements (one blood order); serum and PET each their own order.
    """
    n = design.n_patients
    z = pd.DataFrame(rng.standard_normal((n, len(LATENTS))) @ loadings(coef).T, columns=LATENTS)
    cohort = observe(z, scales)
    cohort.insert(0, "durable", z["liability"].to_numpy() > stats.norm.isf(design.durable_share))
    order = {"tumor": rng.permutation(n), "blood": rng.permutation(n),
             "serum": rng.permutation(n), "pet": rng.permutation(n)}  # fmt: skip
    source = {"n_gene_expression": "tumor", "n_ihc": "tumor", "n_mmdsc": "blood", "n_cart": "blood",
              "n_serum": "serum", "n_mtv": "pet"}  # fmt: skip
    for marker, subset in SUBSET_OF.items():
        measured = order[source[subset]] < getattr(design, subset)
        cohort.loc[~measured, marker] = np.nan
    return cohort
