"""Real patient-level data sets shipped with lifelines, coded as cohorts of the study spec's model.

Each ``Dataset`` says what a paper would say about the study (its groups, covariates as a paper
would tabulate them, endpoint, time unit, landmarks) and ``cohort(name)`` returns the patient data
in the form ``helpers.spec`` simulates: float arrays ``group`` (index), one per covariate (a
categorical one as its level index, a binary one 0/1), ``<endpoint>_time`` and ``_event``. Nothing
is downloaded: the loaders read files installed with lifelines.

Codings a paper would choose (cut points of skewed measurements, merged sparse levels) are
declared here, with their reason beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 30.4375  # 365.25 / 12


@dataclass(frozen=True)
class Covariate:
    """A baseline covariate as a paper tabulates it."""

    name: str  # spec name (lower case)
    label: str  # as a table row would say it
    kind: Literal["binary", "categorical", "continuous"]
    levels: tuple[str, ...] = ()  # categorical: level names (first = reference), codes 0, 1, ...
    level_labels: tuple[str, ...] = ()
    distribution: Literal["normal", "lognormal"] = "normal"  # continuous
    unit: float = 1.0  # continuous: HRs per this many units
    unit_label: str = ""  # continuous: "years"


@dataclass(frozen=True)
class Dataset:
    name: str  # outside-study name (lower case)
    prefix: str  # claim-ID prefix (letters)
    title: str  # what the study is, in a line
    citation: str  # the publication the data come from
    doi: str
    loader: str  # the installed function that ships the data
    time_unit: Literal["weeks", "months", "years"]
    endpoint: str  # spec name of the time endpoint
    endpoint_label: str
    groups: tuple[str, ...]  # arms (first = reference); one name for a single cohort
    group_labels: tuple[str, ...]
    covariates: tuple[Covariate, ...]
    landmarks: tuple[float, ...]  # landmark times printed, in ``time_unit``
    by: str  # the variable Kaplan-Meier summaries and the log-rank test compare: "group" or a covariate
    coding: str  # what was recoded or left out, in a line
    load: Callable[[], pd.DataFrame] = field(repr=False, compare=False, default=lambda: pd.DataFrame())

    @property
    def two_arms(self) -> bool:
        return len(self.groups) > 1

    def levels_of(self, name: str) -> tuple[str, ...]:
        """Level names of ``by`` or a categorical covariate (a binary one: no, yes)."""
        if name == "group":
            return self.groups
        cov = self.covariate(name)
        return cov.levels if cov.kind == "categorical" else ("no", "yes")

    def level_labels_of(self, name: str) -> tuple[str, ...]:
        if name == "group":
            return self.group_labels
        cov = self.covariate(name)
        return cov.level_labels if cov.kind == "categorical" else (f"not {cov.label}", cov.label)

    def covariate(self, name: str) -> Covariate:
        for c in self.covariates:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no covariate {name!r}; it has {', '.join(c.name for c in self.covariates)}")


def _cut(x: pd.Series, edges: list[float]) -> np.ndarray:
    """Level index of each value between ``edges`` (right-closed bins, as '1-3, 4-9, 10+')."""
    return (np.searchsorted(np.asarray(edges, float), x.to_numpy(float), side="left")).astype(float)


def _gbsg2() -> pd.DataFrame:
    from lifelines.datasets import load_gbsg2

    d = load_gbsg2()
    return pd.DataFrame({
        "group": (d.horTh == "yes").astype(float),
        "age": d.age.astype(float),
        "postmenopausal": (d.menostat == "Post").astype(float),
        "size": _cut(d.tsize, [20, 50]),  # T1 <= 20 mm, T2 21-50 mm, T3 > 50 mm (TNM size classes)
        "grade": d.tgrade.map({"I": 0.0, "II": 1.0, "III": 2.0}),
        "nodes": _cut(d.pnodes, [3, 9]),  # 1-3, 4-9, 10 or more positive nodes (pN1, pN2, pN3)
        "pr_positive": (d.progrec >= 20).astype(float),  # >= 20 fmol/mg, the trial's cut-off
        "er_positive": (d.estrec >= 20).astype(float),
        "rfs_time": d.time / DAYS_PER_MONTH,
        "rfs_event": d.cens.astype(float),
    })  # fmt: skip


def _lung() -> pd.DataFrame:
    from lifelines.datasets import load_lung

    d = load_lung()
    d = d[d["ph.ecog"].notna()]  # one patient without ECOG: left out, as a complete-case table would
    return pd.DataFrame({
        "group": (d.sex == 2).astype(float),  # 1 male, 2 female
        "age": d.age.astype(float),
        "ecog": np.minimum(d["ph.ecog"], 2.0),  # ECOG 3 (one patient) merged into 2-3
        "os_time": d.time / DAYS_PER_MONTH,
        "os_event": d.status.astype(float),
    }).reset_index(drop=True)  # fmt: skip


def _rossi() -> pd.DataFrame:
    from lifelines.datasets import load_rossi

    d = load_rossi()
    return pd.DataFrame({
        "group": d.fin.astype(float),
        "age": d.age.astype(float),
        "black": d.race.astype(float),
        "work_experience": d.wexp.astype(float),
        "married": d.mar.astype(float),
        "parole": d.paro.astype(float),
        "priors": _cut(d.prio, [0, 3]),  # none, 1-3, 4 or more prior convictions
        "arrest_time": d.week.astype(float),
        "arrest_event": d.arrest.astype(float),
    })  # fmt: skip


def _larynx() -> pd.DataFrame:
    from lifelines.datasets import load_larynx

    d = load_larynx()
    stage = d.Stage_II + 2 * d.Stage_III + 3 * d.Stage_IV
    return pd.DataFrame({
        "group": np.zeros(len(d)),
        "stage": stage.astype(float),
        "age": d.age.astype(float),
        "os_time": d.time.astype(float),
        "os_event": d.death.astype(float),
    })  # fmt: skip


def _leukemia() -> pd.DataFrame:
    from lifelines.datasets import load_leukemia

    d = load_leukemia()
    return pd.DataFrame({
        "group": d.Rx.astype(float),  # 0 6-mercaptopurine, 1 placebo
        "male": d.sex.astype(float),
        "log_wbc": d.logWBC.astype(float),
        "remission_time": d.t.astype(float),
        "remission_event": d.status.astype(float),
    })  # fmt: skip


AGE = Covariate("age", "age", "continuous", unit=10.0, unit_label="per 10 years")

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "gbsg2", "GBSG", "node-positive breast cancer, hormonal therapy or not (GBSG-2 trial)",
            "Schumacher M, Bastert G, Bojar H, et al. J Clin Oncol 1994;12(10):2086-2093", "10.1200/JCO.1994.12.10.2086",
            "lifelines.datasets.load_gbsg2", "months", "rfs", "recurrence-free survival",
            ("no_hormone", "hormone"), ("no hormonal therapy", "tamoxifen"),
            (AGE, Covariate("postmenopausal", "postmenopausal", "binary"),
             Covariate("size", "tumour size", "categorical", ("t1", "t2", "t3"), ("20 mm or less", "21-50 mm", "over 50 mm")),
             Covariate("grade", "tumour grade", "categorical", ("g1", "g2", "g3"), ("grade I", "grade II", "grade III")),
             Covariate("nodes", "positive nodes", "categorical", ("n1_3", "n4_9", "n10"), ("1-3", "4-9", "10 or more")),
             Covariate("pr_positive", "progesterone receptor 20 fmol/mg or more", "binary"),
             Covariate("er_positive", "oestrogen receptor 20 fmol/mg or more", "binary")),
            (24.0, 60.0), "group",
            "time in months (days / 30.4375); tumour size, nodes and receptors in the classes a paper prints",
            _gbsg2,
        ),
        Dataset(
            "lung", "LUNG", "advanced lung cancer, survival by sex (NCCTG)",
            "Loprinzi CL, Laurie JA, Wieand HS, et al. J Clin Oncol 1994;12(3):601-607", "10.1200/JCO.1994.12.3.601",
            "lifelines.datasets.load_lung", "months", "os", "overall survival",
            ("male", "female"), ("men", "women"),
            (AGE, Covariate("ecog", "ECOG performance status", "categorical", ("ps0", "ps1", "ps2"), ("0", "1", "2-3"))),
            (6.0, 12.0), "group",
            "time in months; one patient without ECOG left out; ECOG 3 (one patient) merged into 2-3",
            _lung,
        ),
        Dataset(
            "rossi", "ROSSI", "released prisoners, financial aid or not (randomised), time to re-arrest",
            "Rossi PH, Berk RA, Lenihan KJ. Money, Work, and Crime. New York: Academic Press; 1980", "10.1016/C2013-0-10883-5",
            "lifelines.datasets.load_rossi", "weeks", "arrest", "time to re-arrest",
            ("no_aid", "aid"), ("no financial aid", "financial aid"),
            (Covariate("age", "age at release", "continuous", distribution="lognormal", unit=1.0, unit_label="per year"),
             Covariate("black", "black", "binary"), Covariate("work_experience", "full-time work experience", "binary"),
             Covariate("married", "married", "binary"), Covariate("parole", "released on parole", "binary"),
             Covariate("priors", "prior convictions", "categorical", ("p0", "p1_3", "p4"), ("none", "1-3", "4 or more"))),
            (26.0, 52.0), "group",
            "time in weeks (one year of follow-up for every man); prior convictions in three classes",
            _rossi,
        ),
        Dataset(
            "larynx", "LARYNX", "larynx cancer, survival by stage (one cohort)",
            "Kardaun JWPF. Statistical survival analysis of male larynx-cancer patients: a case study. Stat Neerl 1983;37(3):103-125",
            "10.1111/j.1467-9574.1983.tb00805.x",
            "lifelines.datasets.load_larynx", "years", "os", "overall survival",
            ("all",), ("all patients",),
            (Covariate("stage", "stage", "categorical", ("i", "ii", "iii", "iv"), ("I", "II", "III", "IV")), AGE),
            (2.0, 5.0), "stage",
            "time in years, as the source gives it",
            _larynx,
        ),
        Dataset(
            "leukemia", "LEUK", "acute leukaemia in remission, 6-mercaptopurine or placebo (Gehan's trial)",
            "Freireich EJ, Gehan E, Frei E, et al. Blood 1963;21(6):699-716", "10.1182/blood.V21.6.699.699",
            "lifelines.datasets.load_leukemia", "weeks", "remission", "remission duration",
            ("six_mp", "placebo"), ("6-mercaptopurine", "placebo"),
            (Covariate("male", "male", "binary"),
             Covariate("log_wbc", "log white blood cell count", "continuous", unit=1.0, unit_label="per log unit")),
            (10.0, 20.0), "group",
            "time in weeks; sex as coded in the source (1 taken as male)",
            _leukemia,
        ),
    )
}  # fmt: skip


def dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise KeyError(f"no real data set {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


@cache
def _frame(name: str) -> pd.DataFrame:
    return dataset(name).load()


def frame(name: str) -> pd.DataFrame:
    """The patient data as coded (one row per patient; a copy)."""
    return _frame(name).copy()


def cohort(name: str) -> dict[str, np.ndarray]:
    """The patient data as a spec cohort: a dict of float arrays (see the module docstring)."""
    return {k: v.to_numpy(float) for k, v in _frame(name).items()}
