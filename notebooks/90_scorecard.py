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
# # 90 · Scorecard: every claim, printed vs re-derived
#
# **Gathers** the results rows written by every notebook before it (one row per numeric item,
# one format for every paper) and adds a `not-implemented` row for any claim ID nobody
# re-derives yet, so gaps stay visible. Writes `reports/tables/scorecard.csv`.
#
# How to read a status (`helpers.verdicts`): `supported` means the printed number lies inside the
# 95% band of same-size simulated studies *and* the check had at least 80% power against a stated
# alternative; `uninformative` means inside, but the check could hardly have failed;
# `contradicted` means outside (with a reason); `borderline` means Monte Carlo error would decide.
# For a *calibrated* item agreement is only a consistency check (the model was fitted to it); for a
# *held-out* item it is a prediction.

# %% tags=["parameters"]
seed: int = 20221208  # not used here; every notebook takes the same two parameters
replicates: int = 200  # not used here

# %%
import matplotlib.pyplot as plt

from helpers import ledger, notebook, paths, scorecard

rng = notebook.start(seed, replicates)

# %% [markdown]
# Gather the rows and fill the gaps.

# %%
card = scorecard.build(scorecard.gather())
scorecard.save(card)
card.status.value_counts().rename("items").to_frame()

# %% [markdown]
# ## Statuses per paper and role
# Calibrated and held-out items are counted apart: only held-out items say something about the
# model's predictive reach.

# %%
scorecard.summary(card)

# %% [markdown]
# All papers together: the headline, printed numbers per role and status.

# %%
scorecard.totals(card)

# %% [markdown]
# ## Where each printed number falls, paper by paper
# Each bar is the 95% band of same-size replicate studies and each dot their median, divided by
# the printed value and coloured by status: a bar that crosses 1 means the printed number is a
# plausible outcome of the model (whether that could have failed is the status).

# %%
for paper in ledger.PAPERS:
    fig = scorecard.forest(card, paper)
    if fig is not None:
        fig.savefig(paths.figures_dir() / f"scorecard_{paper}.png", dpi=100)
        plt.show()

# %% [markdown]
# ## Items contradicted, borderline or not re-derived, with the reason

# %%
scorecard.misses(card)

# %% [markdown]
# ## Versions

# %%
# NBVAL_IGNORE_OUTPUT
notebook.watermark()
