"""Jain et al. 2021 (Blood 137(19):2621, doi:10.1182/blood.2020007445): tumor IFN signalling,
M-MDSC and CAR T failure, known only through a news report and the Blood commentary.

The paper contract (``helpers.study``): ``settings`` (the printed cohort size, the assumptions, the
calibrated coefficients), ``model`` (a latent-Gaussian cohort), ``calibration`` (five path
coefficients back-calculated from the five printed P values), ``analysis`` (re-derivation on one
cohort with scipy and on replicate cohorts with ``helpers.kernels.rank`` / ``welch``) and
``figures``.
"""
