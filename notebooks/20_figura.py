# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -papermill,-execution,-ExecuteTime
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -papermill,-widgets,-varInspector
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 20 · Figura et al. 2021: patterns of failure, lesion by lesion
#
# **Paper:** Figura NB et al., *Int J Radiat Oncol Biol Phys* 2021;111(5):1145-1154,
# doi:10.1016/j.ijrobp.2021.06.038. **Claims:** FIG-01 … FIG-11 — lesion and patient counts,
# recurrence patterns (local, strictly local, retained resolution), three lesion-level odds
# ratios of local failure and the PFS/OS hazard ratios of any lesion ≥ 5 cm.
#
# **Source: the abstract only** (PubMed record, PMID 34242714); the full text is not on the
# shelf. That limits what can be checked: no tables (no per-patient or per-lesion data, no
# covariate distributions), no prevalences of the lesion features (diameter ≥ 5 cm is fitted,
# SUVmax ≥ 10 and extranodal are assumed), no model details (which regression gave the odds
# ratios, its working correlation, adjustment, the Cox ties method), no survival medians (the
# time to failure and death are borrowed from ZUMA-1), and no reason why the survival analysis
# has 69 patients and the lesion analysis 63. Every such gap is an assumption below.
#
# The simulation works bottom-up: patients → pretreatment lesions → each lesion's fate; every
# patient-level pattern is read off that patient's lesions. The work lives in `helpers.figura`.

# %% tags=["parameters"]
seed: int = 20221208  # seed of the notebook's one generator and of the replicate studies (allowed: 0 to 4294967295)
replicates: int = 1000  # same-size replicate studies per band (allowed: 1 to 100000)

# %%
import matplotlib.pyplot as plt
import pandas as pd

from helpers import (
    assumptions,
    conditional,
    ledger,
    notebook,
    provenance,
    results,
    sensitivity,
    study,
)
from helpers.figura import analysis, calibration, figures, model
from helpers.figura import settings as figura_settings

CLAIMS = ledger.claims_index()["figura"]
rng = notebook.start(seed, replicates)

# %% [markdown]
# ## Assumed
# What the abstract does not give: lesion-feature prevalences and correlations, the analysis
# choices (GEE working correlation, Cox ties), follow-up spread, and the timing of failure and
# death, each with its reason and the range or alternatives the sensitivity sweep moves it to.

# %%
assumptions.table("figura")[["value", "unit", "range", "why", "source"]]

# %% [markdown]
# Time to failure and death after failure come from **ZUMA-1**, not from this paper: ZUMA-1
# prints a PFS median *and* a 5-year plateau, and an OS median *and* plateau, which together fix a
# cure model (failure rate, salvaged share, post-failure death rate). Only these rates are
# borrowed — who fails comes from the lesion model.

# %%
model.timing_summary(figura_settings.load()).round(4)

# %% [markdown]
# Which printed numbers the model is built from, computed from what uses them (never typed):
# the printed sizes are simulator inputs, the fitted numbers and the median follow-up (which
# sets an assumption) are calibrated, and a repeat of a used number (the same count printed as a
# percentage) inherits its role. The held-out numbers are the model's predictions.

# %%
provenance.role_table("figura")

# %% [markdown]
# ## Calibrated
# The committed fit (`data/calibrated/figura.json`, `make calibrate`): the ≥ 5 cm prevalence is
# fitted to 46 of 69 patients; the local-failure model (intercept, three conditional log-ORs,
# patient random-effect SD) and the de novo intercept to the three recurrence counts and to the
# large-sample limit of the GEE odds ratios. Seven numbers, seven parameters: the fit is exact,
# so getting these numbers back below is a consistency check, not a discovery.

# %%
fit = calibration.committed()
calibration.targets_table(fit).round(3)

# %% [markdown]
# The fitted parameters: the conditional (within-patient) log-ORs are larger than the printed
# population-averaged ORs because the patient random effect is large (SD about 2 on the logit scale).

# %%
pd.Series(fit["params"]).round(3)

# %% [markdown]
# ## Simulated and re-derived
# One study at the paper's size (seeded), re-derived with the reference libraries (statsmodels
# GEE, lifelines Cox and reverse Kaplan–Meier), then `replicates` studies of the same size from
# the calibrated model, analysed with the batched kernels, and every printed number judged
# against them. **63 vs 69 patients:** the first 63 simulated patients carry the 469 lesions and
# form the lesion cohort and the recurrence patterns; all 69 enter the Cox models.

# %%
run = study.run("figura", seed=seed, replicates=replicates, rng=rng, claims=CLAIMS, save_as="20_figura")
pd.Series(model.lesion_patterns(run.cohort))

# %% [markdown]
# What ignoring clustering does, on the seeded cohort: the naive logistic model treats 469
# lesions as independent (CIs too narrow for the information there is); GEE gives a
# population-averaged OR with robust SE; the random-intercept model (Gauss–Hermite ML, 40 fixed
# nodes) gives a *conditional* OR, larger than the population-averaged one when the patient
# effect is large. `ci_ratio` (upper / lower bound) compares each CI's width with the printed one's.

# %%
single = analysis.lesion_methods(run.cohort, run.settings)
comparison = analysis.method_comparison(run.table, single, run.draws)
comparison[["feature", "method", "reported", "rederived", "rederived_lo", "rederived_hi", "ci_ratio",
            "mc_lo", "mc_median", "mc_hi"]].round(2)  # fmt: skip

# %% [markdown]
# ## Bands
# Every printed number against the same-size studies: `mc_lo`–`mc_hi` is the central 95% of
# the replicate estimates, `percentile` where the printed value falls among them (a range when
# its rounding spans several; `percentile_mcse` its Monte Carlo SE in points), `check_power` the
# chance the check would have flagged it had the stated alternative been true. A number inside
# the band is *supported* only if the check could have failed (power ≥ 80%); otherwise it is
# *uninformative*.

# %%
results.display(run.table, results.VIEW)

# %% [markdown]
# The effects at a glance: the printed ORs and HRs (squares, coloured by verdict), the seeded
# cohort's estimates, and the bands of same-size studies (grey).

# %%
figures.effects_forest(run.table)
plt.show()

# %% [markdown]
# The three lesion-level analyses side by side, each with its own band over the replicates: the
# printed ORs sit where the GEE (and the naive fit) put them; the conditional ORs of the mixed
# model are much larger, so if the authors had fitted a mixed model the lesion effects would be
# smaller than calibrated here.

# %%
figures.methods_forest(comparison)
plt.show()

# %% [markdown]
# The seeded cohort's PFS and OS by any lesion ≥ 5 cm (69 patients).

# %%
figures.km_by_large_lesion(run.cohort)
plt.show()

# %% [markdown]
# Each row a patient of the lesion cohort, each cell a pretreatment lesion: failures cluster in
# patients (the random effect), and most recurrent patients keep some lesions resolved (FIG-05).

# %%
figures.lesion_map(run.cohort)
plt.show()

# %% [markdown]
# Two bands for the held-out numbers where they differ most. Today's band (`mc_lo`–`mc_hi`)
# answers: what would another study of this size show, were the fitted parameters exactly true?
# The conditional band (`cond_lo`–`cond_hi`, `helpers.conditional`) answers: given the other
# numbers this paper printed from these patients, where should this one lie (parameter uncertainty
# included)? It comes from the posterior that `make calibrate` commits; `width_ratio` is its width
# over today's, and the second table is that run's diagnostics.

# %%
conditional.compare(run.table)

# %%
conditional.diagnostics("figura")

# %% [markdown]
# ## Sensitivity
# Which verdicts change when an assumption moves across its range or to its alternative (the
# GEE working correlation to independence, the Cox ties to Breslow, …), with the model refitted
# each time: the shared sweep (`make sensitivity`) writes the table this reads.

# %%
sensitivity.changes("figura", CLAIMS)

# %% [markdown]
# How far each assumption moves each printed value's percentile (a bar crossing 2.5% or 97.5%
# can flip a verdict).

# %%
sensitivity.tornado("figura", CLAIMS)
plt.show()

# %% [markdown]
# The three most influential assumptions moved together (eight Latin-hypercube points, each
# refitted): how many points give each status, and how far the printed value's percentile
# travels. Refits that stopped at their evaluation budget or failed are listed after it, with
# their residuals (none are dropped).

# %%
sensitivity.joint_changes("figura", CLAIMS)

# %%
sensitivity.failed_points("figura")

# %%
notebook.prose_note("20_figura")

# %% [markdown]
# ## What survives
# Verdicts by role (inputs are shown, not judged):

# %%
pd.crosstab(run.table.role, run.table.status)

# %% [markdown]
# The two hazard ratios in detail: `power` is the share of same-size studies reaching P < .05,
# `p_reach` the share reaching the printed P (.02) or below, `exaggeration` how much a
# significant same-size study overstates the model's effect.

# %%
results.display(run.table[run.table.claim_id.isin(["FIG-10", "FIG-11"])],
                ["claim_id", "item", "reported", "mc_median", "percentile", "check_power", "power", "p_reach",
                 "exaggeration", "status"])  # fmt: skip

# %% [markdown]
# Why the model's own hazard ratio is above 1 at all: a patient with a lesion ≥ 5 cm has more
# lesions (a large one is likelier among many), hence more chances of a local failure. Mean
# number of lesions by any lesion ≥ 5 cm, seeded cohort:

# %%
run.cohort.patients.groupby("any_ge5cm").n_lesions.mean().round(1)

# %% [markdown]
# **What survives.** No printed number of the abstract is contradicted by the model, but only two
# are supported by a check that could have failed, and both were fitted: the odds ratios for
# diameter ≥ 5 cm (FIG-06) and SUVmax ≥ 10 (FIG-07), whose bands exclude an OR of 1 so clearly
# that a null effect would have been flagged 92–97% of the time. Of the 15 judged numbers, 12
# are calibrated (the model was fitted to the recurrence counts, the three ORs and the 46 of 69
# patients with a large lesion, and the median follow-up sets the follow-up assumption): they
# come back inside their bands, as an exact fit must, and 10 of them are *uninformative* — at 63
# patients the checks had only 6–74% power against a count or time 25% off (or a percentage 10
# points off), and 47% against no effect for the extranodal OR (FIG-08).
#
# The three held-out numbers are all *uninformative*. The 84% of recurrent patients who kept
# some lesions resolved (FIG-05) sits at the 23rd–29th percentile of the model's prediction
# (median about 87%), but a value 10 points away would have passed about two times in three (and
# 84% is no whole number of 36 patients, so its denominator is uncertain). The hazard ratios of
# any lesion ≥ 5 cm, 2.41 for PFS (FIG-10) and 3.36 for OS (FIG-11), were called "reproduced"
# before; they are not supported. The model's own HRs are about 1.4 (median of same-size
# studies): the printed values lie at the 90th–91st percentile, inside the wide bands of a
# 69-patient study, but a check with 12–16% power against *no effect at all* cannot tell them
# from a null. A same-size study reaches P < .05 in 18% (PFS) and 7% (OS) of replicates, and
# P ≤ .02 in 8% and 2%; the significant ones overstate the model's effect about 2.5-fold (PFS)
# and 5-fold (OS). Even that modest model HR is mostly lesion burden rather than size: with
# diameter given no effect on local failure, the PFS HR of "any lesion ≥ 5 cm" still has a
# median of about 1.2 (`tests/test_figura.py` simulates it), because such patients have more
# lesions (above). So the printed HRs look like a lucky, significant draw from this model — or
# they reflect a patient-level effect of bulky disease on progression and death beyond its
# lesions' local-failure risk, which the model does not contain and the abstract cannot
# separate. The abstract's numbers are consistent with one lesion-level model, but at these
# sizes most of them could hardly have been otherwise.

# %%
# NBVAL_IGNORE_OUTPUT
notebook.watermark()
