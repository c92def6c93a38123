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
# # 60 · Nastoupil et al. 2020: standard-of-care axi-cel in the US Lymphoma CAR T Consortium
#
# **Paper:** Nastoupil LJ, Jain MD, Feng L, et al. *J Clin Oncol* 2020;38(27):3119-3128,
# doi:10.1200/JCO.19.02104. **Claims:** NAST-01 … NAST-05 (see `data/reported/claims_index.yaml`).
# **Source:** abstract only (the PubMed record). The abstract gives the cohort sizes, the share of
# patients ZUMA-1 would have excluded, severe toxicity and nonrelapse mortality, best response
# with 95% CIs, the median follow-up, the median PFS with its CI and an unreached median OS; no
# landmark, no curve and no hazard ratio, so the survival model leans on assumptions taken from
# ZUMA-1 (the share of durable remissions) and DESCAR-T (survival after failure).
#
# The study is described by its spec, `data/specs/nastoupil.yaml` (groups, covariates, endpoints,
# censoring, which printed numbers are inputs and which are fitted); the generic package
# `helpers.spec` simulates it and re-derives every printed number. Nothing here is paper-specific
# code. Written by `make new-paper NAME=nastoupil`.

# %% tags=["parameters"]
seed: int = 20221208  # seed of the generator of the notebook (allowed: 0 to 4294967295)
replicates: int = 1000  # same-size replicate studies per band (allowed: 1 to 100000)

# %%
import matplotlib.pyplot as plt
import pandas as pd

from helpers import assumptions, ledger, notebook, results, sensitivity, spec, study

PAPER = "nastoupil"
CLAIMS = ledger.claims_index()[PAPER]
rng = notebook.start(seed, replicates)

# %% [markdown]
# ## Assumed
# What the paper does not give: each value with why, where it comes from, and the range the
# sensitivity analysis moves it across.

# %%
assumptions.table(PAPER)[["value", "range", "why", "source"]]

# %% [markdown]
# ## Calibrated
# The spec's free parameters fitted to its calibration targets (`python -m helpers.calibrate
# nastoupil` writes `data/calibrated/nastoupil.json`): printed against fitted value per target, the
# residual in SEs, and the fitted parameters. Reproducing a target later is a consistency check only.

# %%
spec.fitted(PAPER)

# %% [markdown]
# ## Simulated and re-derived
# One cohort at the paper's size re-derived with lifelines, statsmodels and scipy, then
# `replicates` same-size studies with the batched kernels; each printed number is judged by where
# it falls among them (roles from provenance: input, calibrated, held-out).

# %%
run = study.run(PAPER, seed=seed, replicates=replicates, rng=rng, claims=CLAIMS, save_as="60_nastoupil")
results.display(run.table, results.VIEW)

# %% [markdown]
# ## Bands
# The seeded cohort's survival curves, and every hazard or odds ratio: printed (colour: status),
# re-derived from the seeded cohort, and the band of same-size studies.

# %%
study.module(PAPER, "figures").survival(run.cohort)
plt.show()

# %%
study.module(PAPER, "figures").ratios(run.table)
plt.show()

# %% [markdown]
# ## Sensitivity
# Which assumptions move which verdicts (from the committed sweep; "no sweep yet" until
# `make sensitivity PAPERS=nastoupil` has run for this paper).

# %%
sensitivity.changes(PAPER, CLAIMS)

# %% [markdown]
# The most influential assumptions moved together (Latin-hypercube points, each refitted): how
# many points give each status and how far each printed value's percentile travels; then any
# refit that failed or stopped at its budget, with its residuals (none are dropped).

# %%
sensitivity.joint_changes(PAPER, CLAIMS)

# %%
sensitivity.failed_points(PAPER)

# %%
notebook.prose_note("60_nastoupil")

# %% [markdown]
# ## What survives
# Verdicts by role: how many printed numbers a check that could have failed supports, how many it
# could not test at the study's size (uninformative), how many it contradicts (and why, in the
# table's `reason`).

# %%
pd.crosstab(run.table.role, run.table.status)

# %% [markdown]
# Five printed numbers are inputs (cohort size, ZUMA-1 ineligibility, severe CRS and neurotoxicity,
# best ORR) and come back as they went in. The CR rate and the median PFS were fitted, and the
# median follow-up was used to set the data cut, so their return is a consistency check only. The
# one held-out number is the unreached median OS: with survival after failure taken from DESCAR-T,
# the model's median OS is about a year and a half, and about half of same-size studies with this
# follow-up would not reach it, so "not reached" is what such a cohort prints about half the time:
# consistent, but a check that could hardly have failed. Even the fitted median PFS is a weak check
# at 275 patients: a median a quarter longer or shorter would fall outside the band only about a
# third of the time. The sweep adds one constraint: if a complete response cut the hazard of
# progression to a fifth on top of the ZUMA-1 cure share (the far end of `log_hr_cr_pfs`), no
# speed of progression would give a median PFS of 8.3 months (the median would not be reached), so
# the printed median bounds how much a CR can add to that share; moving the accrual or the data cut
# moves the follow-up median out of its band, as it must for a number used to set them. An
# abstract this thin supports its response rates and little about survival; the 12-month PFS and
# OS of the full text would be the first held-out tests worth adding.

# %%
# NBVAL_IGNORE_OUTPUT
notebook.watermark()
