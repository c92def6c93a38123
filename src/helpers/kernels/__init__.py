"""Batched numpy kernels: the standard survival and regression analyses of R replicate cohorts at once.

Inputs are arrays shaped ``(R, n)`` — R replicate cohorts of equal size n — and covariates
``(R, n, k)``; a 1-D input is one cohort. An optional boolean ``mask`` (R, n) drops patients
per replicate (complete-case analyses); rows with NaN are dropped as well. Each kernel equals
the library the single-cohort notebooks use (tests/test_kernels.py checks it):

- ``kaplan_meier`` / ``median`` / ``survival_at`` (and the shortcuts ``km_median``,
  ``km_survival_at``): lifelines ``KaplanMeierFitter``; log-log CI, Brookmeyer–Crowley median CI;
- ``logrank``: lifelines ``multivariate_logrank_test`` (= ``logrank_test`` for two groups);
- ``cox_fit``: lifelines ``CoxPHFitter`` (Efron ties; Breslow available);
- ``logistic_fit``: statsmodels ``Logit``.

Fits that have no maximum (separation, a covariate with no events in one arm) are flagged
``converged = False`` with NaN estimates rather than raising.
"""

from .cox import CoxFit, cox_fit
from .km import KMCurves, kaplan_meier, km_median, km_survival_at, median, survival_at
from .logistic import LogitFit, logistic_fit
from .logrank import logrank

__all__ = [
    "CoxFit",
    "KMCurves",
    "LogitFit",
    "cox_fit",
    "kaplan_meier",
    "km_median",
    "km_survival_at",
    "logistic_fit",
    "logrank",
    "median",
    "survival_at",
]
