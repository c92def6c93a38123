"""Proof on real patient data: how often does a held-out prediction band cover the truth?

The four papers' patient data are not public, so the method is tested where the truth is known:
real patient-level data sets shipped with installed packages (lifelines, statsmodels; never
downloaded). For each data set,

1. ``datasets``: the patient data, coded as a cohort of the study spec's model (group, covariates,
   ``<endpoint>_time`` / ``_event``), with what a paper would say about its design;
2. ``paper``: the summary a typical clinical paper prints (group sizes, covariate counts and
   percentages, Kaplan-Meier medians with 95% CIs, landmark survival, log-rank P, univariable and
   multivariable Cox HRs with CIs and P), computed from the patient data by the spec's own
   reference engine and rounded as a paper prints them, written as a ledger, assumptions and a
   study spec (a study held outside data/, ``helpers.ledger.outside``: never a paper of the project);
3. ``splits``: which printed numbers are calibration targets (one split mimicking the four papers,
   several random ones);
4. ``validate``: calibrate to a split's targets, predict every other number with Monte Carlo bands
   of same-size studies, and compare with the truth computed from the patient data; the coverage
   tables, the verdicts on true (and on false) numbers, and the committed full study.
"""
