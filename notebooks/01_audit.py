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
# # 01 · The audit: do each paper's printed numbers agree with each other?
#
# **Checks:** every numeric item of every claim in the ledger (JAIN-01 … JAIN-12, FIG-01 …
# FIG-11, DES-01 … DES-20; VEN-01 … VEN-05 are qualitative and have nothing to recompute),
# before any simulation. A number that disagrees with another number *of the same paper* is a
# fact about the paper, not about our re-derivation.
#
# | paper | citation | DOI |
# |---|---|---|
# | Jain et al. 2021 | Blood 137(19):2621-2633 | 10.1182/blood.2020007445 |
# | Figura et al. 2021 | Int J Radiat Oncol Biol Phys 111(5):1145-1154 | 10.1016/j.ijrobp.2021.06.038 |
# | Di Blasi et al. 2022 (DESCAR-T) | Blood 140(24):2584-2593 | 10.1182/blood.2022016945 |
# | Ventin et al. 2023 | JAMA Oncol (review) | 10.1001/jamaoncol.2023.4504 |

# %% tags=["parameters"]
seed: int = 20221208  # not used here: the audit has no randomness; every notebook takes the same two parameters
replicates: int = 200  # not used here

# %%
import matplotlib.pyplot as plt
import pandas as pd

from helpers import audit, io, ledger, notebook, paths

rng = notebook.start(seed, replicates)
pd.set_option("display.max_colwidth", None)  # the detail column carries the recomputation

# %% [markdown]
# ## The rule: a printed number is an interval
#
# "38.9%" stands for every value from 38.85% to 38.95%, and a count such as "72" for exactly 72.
# A relation is called **inconsistent** only when *no* values inside those intervals satisfy
# it; **unverifiable** when a needed number is missing, not reached ("NR") or not a number;
# **consistent** otherwise. A check that flagged what rounding explains would be a false alarm.
#
# ## The checks, in plain words
#
# - **token_parses.** Every printed number should read as a number, a bound such as "<.0001", or "NR". A token like "4.0.6" is reported as it stands; we never guess what was meant.
# - **grim.** A percentage of a known group must be some whole count divided by the group size. If no whole count rounds to the printed percentage, one of the two numbers is wrong.
# - **implied_denominator.** When a percentage comes with its count but no group size, only some group sizes can produce it. We list them (72 patients = 38.9% means the group had 185).
# - **count_within_n.** A count cannot exceed the group it was counted in. The check reads the denominator printed beside the count.
# - **ci_contains_estimate.** A confidence interval's lower bound should not exceed its upper bound, and the estimate should lie between them. A median must lie inside its own interval.
# - **ci_log_symmetry.** A 95% interval for a hazard or odds ratio from a standard model is symmetric around the estimate on the log scale. So the estimate should equal the geometric mean of the two bounds, within rounding.
# - **p_from_ci.** From a ratio's 95% interval one can recover its standard error, hence its P value (Altman & Bland, BMJ 2011;343:d2090). That P should round to the printed P.
# - **ci_from_p.** The same relation read backwards: the printed P and estimate fix how wide the interval must be. The check compares that width with the printed bounds.
# - **sum.** Counts that split a group should add up to the group. Percentages of one whole add to 100 within their rounding.
# - **subset.** A subgroup cannot be larger than the set it belongs to. The ledger lists which items are subsets of which.
# - **landmark_median.** On a survival curve, survival at a landmark time is at most 50% exactly when that time is at or past the median. A landmark below 50% before the median (or above it after) cannot come from one curve.
# - **pooled_median.** When two groups are pooled, the pooled survival curve lies between the group curves. So the pooled median lies between the group medians.
# - **same_quantity.** One quantity printed in two places (abstract and results, text and table) should give the same number. Different precision is fine; different values are not.
# - **repeated_estimate.** Two different end points rarely share an estimate and both interval bounds to three digits. Such a repeat is flagged when the print is fine enough for a coincidence to be improbable, unless the ledger declares the two the same quantity.

# %% [markdown]
# ## Run every check on every paper
# The audit reads the validated ledger (printed tokens, so precision survives) and writes one row
# per claim, item and check to `reports/tables/audit.csv`.

# %%
audited = audit.audit()
io.write_csv_atomic(audited, paths.tables_dir() / "audit.csv")
audit.totals(audited)

# %% [markdown]
# ## DESCAR-T (Di Blasi et al. 2022): findings
# Each row shows the printed numbers that conflict and the recomputation that fails for every
# value within rounding.

# %%
audit.findings(audited, "descart")

# %% [markdown]
# Numbers the audit could not check (a missing denominator, an upper bound "not reached", a
# typo that leaves no number) are listed too, so that nothing is silently passed.

# %%
audit.findings(audited, "descart", verdict="unverifiable")

# %% [markdown]
# ## Figura et al. 2021: findings
# The abstract gives three odds ratios and two hazard ratios with their intervals and P values,
# and several percentages with their counts.

# %%
audit.findings(audited, "figura")

# %% [markdown]
# ## Jain et al. 2021 and Ventin et al. 2023
# The two texts we hold for Jain et al. print P values and fold changes without intervals or
# counts, and Ventin et al. is a narrative review: there is little to cross-check.

# %%
pd.concat({(paper, verdict): audit.findings(audited, paper, verdict)
           for paper in ("jain", "ventin") for verdict in ("inconsistent", "unverifiable")},
          names=["paper", "verdict", "row"]).droplevel("row")  # fmt: skip

# %% [markdown]
# ## Summary per paper and check
# Counts of verdicts; the same table drives the figure.

# %%
summary = audit.summary(audited)
summary

# %% [markdown]
# The figure shows, for each paper and check, how many items were found inconsistent out of
# how many the check applied to (unverifiable ones counted in the total); a dash marks a check
# with nothing to apply to.

# %%
checks, papers = list(audit.CHECKS), list(ledger.PAPERS)
grid = summary.reindex(pd.MultiIndex.from_product([papers, checks]), fill_value=0)
bad = grid["inconsistent"].unstack(0).loc[checks, papers]
applied = grid.sum(axis=1).unstack(0).loc[checks, papers]
fig, ax = plt.subplots(figsize=(6.4, 5.6))
ax.imshow(bad.where(applied > 0), cmap="Reds", vmin=0, vmax=2 * max(2, bad.to_numpy().max()), aspect="auto")  # pale enough to read the text
for (i, check), (j, paper) in ((a, b) for a in enumerate(checks) for b in enumerate(papers)):
    n = applied.loc[check, paper]
    ax.text(j, i, f"{bad.loc[check, paper]} / {n}" if n else "–", ha="center", va="center", fontsize=8)
ax.set_xticks(range(len(papers)), papers)
ax.set_yticks(range(len(checks)), checks)
ax.set_title("Inconsistent / checked items, per paper and check")
fig.tight_layout()
fig.savefig(paths.figures_dir() / "audit_summary.png", dpi=100)
plt.show()

# %% [markdown]
# ## Versions

# %%
# NBVAL_IGNORE_OUTPUT
notebook.watermark()
