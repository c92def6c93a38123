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
# one format for all four papers) and adds a `not-implemented` row for any claim ID nobody
# re-derives yet, so gaps stay visible. Writes `reports/tables/scorecard.csv`.
#
# How to read a status: `reproduced` means the printed number lies inside the 95% band of
# same-size simulated studies; for a *calibrated* item that is only a consistency check (the
# model was fitted to it), for a *held-out* item it is a prediction that came true.

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
# ## Share reproduced, per paper and role
# Calibrated and held-out items are counted apart: only the held-out share says something about
# the model's predictive reach.

# %%
scorecard.summary(card)

# %% [markdown]
# ## Re-derived against printed, paper by paper
# Each bar is the 95% band of same-size replicate studies, divided by the printed value: a bar
# that crosses 1 means the printed number is a plausible outcome of the model.

# %%
for paper in ledger.PAPERS:
    fig = scorecard.forest(card, paper)
    if fig is not None:
        fig.savefig(paths.figures_dir() / f"scorecard_{paper}.png", dpi=100)
        plt.show()

# %% [markdown]
# ## Items not reproduced, with the notebook's reason

# %%
scorecard.misses(card)

# %% [markdown]
# ## Versions

# %%
# NBVAL_IGNORE_OUTPUT
notebook.watermark()
