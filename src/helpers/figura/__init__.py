"""Figura et al. 2021 (Int J Radiat Oncol Biol Phys 111(5):1145-1154, doi:10.1016/j.ijrobp.2021.06.038).

Patterns of failure after CAR T, lesion by lesion, from the abstract only. ``settings`` (the
printed sizes, assumptions and calibration), ``model`` (patients, their pretreatment lesions
and each lesion's fate), ``calibration`` (the generative parameters fitted to the recurrence
counts, the lesion-level ORs and the share with a large lesion), ``analysis`` (FIG-01 ... FIG-11
re-derived on one cohort or many), ``figures``. The statistics are general and live in
``helpers.kernels`` (``gee``, ``glmm``, ``odds_ratio``, ``quadrature``, ``cox``, ``km``).
"""
