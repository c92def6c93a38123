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
# # 50 · How far can the held-out predictions be trusted? Real patient data
#
# The project predicts every printed number it does not fit (a *held-out* number) with a band: the
# central 95% of that number over same-size studies simulated from the calibrated model. On the four
# papers the truth behind a printed number is unknown, so whether those bands cover it cannot be
# checked there. Here it can: five real patient-level data sets that ship with lifelines (nothing is
# downloaded), each summarised as a clinical paper would print it, re-derived from that summary alone
# with the study-spec machinery, and compared with the truth computed from the patient data.
#
# **Method** (`helpers.realdata`). For each data set a generator prints Table 1 (group sizes,
# covariate counts and percentages, by arm too), the follow-up, Kaplan–Meier medians with 95% CIs,
# landmark survival, the log-rank P, univariable and multivariable Cox HRs with CIs and P, rounded as
# a journal prints them, as a ledger, assumptions and a study spec: an *outside study*, never a paper
# of the project. A calibration fits the model to a declared subset of the printed numbers (a
# *split*); every other number is predicted at the data set's own size and compared with the truth.
# Seven splits per data set: one that **mimics the four papers** (medians and univariable HRs
# fitted; landmarks, events, P values and multivariable HRs held out) and six random ones.

# %% tags=["parameters"]
seed: int = 20221208  # seed of the live run's replicate studies (the committed study used 20221208) (allowed: 0 to 4294967295)
replicates: int = 200  # same-size studies per band in the live run; the committed study used 200 (allowed: 1 to 100000)
dataset: int = 2  # data set of the live run: 1 gbsg2, 2 lung, 3 rossi, 4 larynx, 5 leukemia (allowed: 1 to 5)
by_arm: bool = False  # the live run draws covariates by arm (the improved model) instead of pooled over arms, as the four papers' specs (allowed: True or False)
full: bool = False  # re-run the whole study here instead of reading the committed one (about 25 min on 2 cores) (allowed: True or False)

# %%
import matplotlib.pyplot as plt

from helpers import notebook
from helpers.realdata import validate, view

rng = notebook.start(seed, replicates, dataset=dataset, by_arm=by_arm, full=full)
name, model = view.live_choice(dataset, by_arm)

# %% [markdown]
# ## The data sets
# Shipped with lifelines; each is coded as a cohort of the spec's model (`helpers.realdata.datasets`:
# cut points of skewed measurements as papers print them, time in the unit a paper would use).

# %%
view.datasets_table()

# %% [markdown]
# ## One generated paper, run live
# The live data set's generated paper, fitted under the mimic split and predicted with `replicates`
# same-size studies (at the default parameters this is one of the committed study's runs, and must
# agree with it). First the printed numbers as the machinery reads them, then their roles: the
# Table 1 numbers the model reads are inputs (the column it does not read is held out but follows
# from them, so it is not judged), the follow-up set the censoring (calibrated), the medians and
# univariable HRs are the calibration targets, the rest is held out.

# %%
lv = view.live(name, model, seed=seed, replicates=replicates)
lv.printed

# %%
lv.roles.groupby("role").size().rename("printed numbers").to_frame()

# %% [markdown]
# The fit: printed against fitted for each target (residuals in the target's printed SEs), then the
# fitted parameters (a Weibull baseline, its shape, one log HR per model term).

# %%
view.fit_table(lv)

# %% [markdown]
# Every held-out number: the printed value, the truth from the patient data, the band of
# same-size studies, whether it covers the truth, the truth's percentile among the studies, and the
# project's verdict on the printed (true) number and on a false one (the verdicts' stated
# alternative: a time 25% longer, a landmark 10 points off, an effect removed, P = .50).

# %%
view.bands_table(lv.rows)

# %% [markdown]
# The live run against the committed study's rows of the same data set, split and model.

# %%
study = validate.study(replicates=replicates, seed=seed)[0] if full else validate.load_study()
view.save_table(study)
view.agreement(lv, study)

# %% [markdown]
# ## Coverage of the truth by held-out bands
# All five data sets, seven splits each, 200 same-size studies per band (`make validate-real`
# computes it; `data/validation/real_data_validation.csv`, copied to
# `reports/tables/real_data_validation.csv`). Per kind of number, under the model the four papers'
# specs use (covariates drawn alike in both arms): the share of truths inside their 95% band over
# all splits, its Monte Carlo SE (the bands come from 200 draws), the mimic split's and the random
# splits' coverage with the SD between random splits, which side the misses fall, and the median
# band width (fold for times, counts and ratios; points for landmarks; decades for P values).

# %%
view.rounded(validate.coverage(study))

# %%
view.figure(study)
plt.show()

# %% [markdown]
# Per data set:

# %%
view.rounded(validate.coverage(study, "dataset"))

# %% [markdown]
# ## Are the verdicts right?
# Every printed number here is true, so a held-out number judged *contradicted* is a false alarm.
# To say how often *supported* is right, each held-out number is also judged as a false number of
# the kind the verdicts' power is stated against; "supported right (1:1)" is the share of
# *supported* verdicts given to true numbers when true and false numbers are equally common.

# %%
view.rounded(validate.verdict_table(study))

# %% [markdown]
# Coverage falls short of 95%: 82% of 532 held-out truths (Monte Carlo SE 0.6 points; 86% in the
# mimic split, 82% ± 7 between random splits), while 96% of the 700 calibrated numbers are covered
# (the fit reproduces what it was fitted to). Medians (96%) and the log-rank P (91%) come close;
# univariable HRs held out (71%) and their P values (69%), multivariable HRs and their P values
# (82%) and events (83%) do not. The bands are wide — a median's band spans a factor of 2, a
# landmark's 21 points, an HR's a factor of 2.2, a P value's 3 to 5 decades — and still miss.
#
# The verdicts hold up better than the bands: *contradicted* fires on 4.5% of the true numbers (on
# 7.5–8.6% of the HRs), *supported* is given to 20% of them, and to 0.5% of the false ones, so a
# *supported* is right 98% of the time when true and false numbers are equally common; most true
# numbers (63%) are *uninformative*: the check could hardly have failed.
#
# ## Where the bands miss, and why
# Misses per data set and kind, and on which side of the band the truth fell:

# %%
validate.misses(study).groupby(["dataset", "kind", "side"]).size().unstack(fill_value=0)

# %% [markdown]
# Four modelling choices explain them.
#
# 1. **Covariates drawn independently of each other.** 56 of the 94 misses are GBSG-2's: its
#    receptors go together (oestrogen and progesterone) and so do size, nodes and grade. Fitted to the
#    univariable HRs (mimic split), the model predicts multivariable HRs as large as the univariable
#    ones or larger (a Cox HR grows when other strong covariates are adjusted for and nothing
#    confounds), while the truth shrinks: oestrogen receptor 0.98 against a band of 0.45–0.69, tumour
#    over 50 mm 1.27 against 1.96–4.47. Fitted to multivariable HRs (random splits), it misses the
#    univariable ones the other way, and their P values follow. The spec can express a correlation
#    (copula or factor), but nothing a paper prints identifies it, so it stays zero.
# 2. **Covariates drawn alike in both arms.** In Gehan's trial the placebo arm had higher white-cell
#    counts, so the arm's multivariable HR (4.50) lies below a band of 5.2–47 built on balanced
#    arms; GBSG-2's tamoxifen arm was older and postmenopausal. The spec could not say otherwise:
#    improved below.
# 3. **One Weibull shape with proportional hazards.** Larynx stage III: 59% alive at 2 years, below
#    every band (60–96%) in each of the five splits that hold it out; its deaths come early, then
#    level off, which one shape shared by all stages cannot draw.
# 4. **A band of independent studies.** Where a held-out number comes from the same patients as a
#    fitted one (a landmark beside its curve's median, a univariable P beside its HR), the band of
#    same-size studies is too wide: the truths bunch in its middle (the hump of the histogram above)
#    while the confounded ones fall off its edges (the two tails). Conditional bands (issue 18) are
#    meant for the first; how they fare is measured below.

# %% [markdown]
# ## The improved model: covariates by arm
# The spec's covariates were drawn alike in both arms from the all-patients column of Table 1; the
# spec could not say otherwise. Papers print Table 1 by arm, and the data sets are not balanced by
# arm where treatment was not randomised (GBSG-2: 76% postmenopausal with tamoxifen, 48% without;
# Gehan's trial: higher white-cell counts on placebo). The spec now takes any covariate parameter
# `by_group` (`helpers.spec.schema`, `tests/test_spec_model.py`), and the generated spec reads each
# arm's column (`model: by_arm`). Coverage under both models, side by side:

# %%
view.by_model(study)

# %%
view.by_model(study, "dataset")

# %% [markdown]
# With each arm's Table 1 column, coverage rises from 82% to 85% (MC SE 0.5 points): events from 83%
# to 94%, univariable HRs and their P values from 69–71% to 79%, Gehan's trial from 76% to 89%,
# lung from 88% to 93%, Rossi's from 93% to 97%. GBSG-2 stays at 62%: its misses are the correlation
# between covariates (cause 1), which no column of Table 1 shows. The mimic split does not gain
# (86% to 84%): GBSG-2's tamoxifen arm, now older and more often postmenopausal in the model, is
# predicted to fare worse than it did (5-year survival 58% against a band of 42–57%).
#
# ## Two kinds of band: independent studies, or these patients given what was printed
# Every band above answers "what would another study of this size show, were the fitted parameters
# exactly true?" The conditional band (issue 18; `helpers.realdata.conditional_band`) answers "given
# the numbers printed from these patients that the split fits, where should this one lie?": the
# very band the four papers get (`helpers.conditional`): pyabc's ABC-SMC with the papers' settings,
# prior uniform on the spec's bounds, the kept cohorts drawn again and moved to an exact match of
# the targets by regression adjustment, parameter uncertainty included. It costs a calibration's
# worth of cohorts per run, so it was computed for fewer runs (below), under the pooled model; the
# comparison uses those runs only, with the independent band of the same numbers beside it.

# %%
view.runs_by_band(study)

# %%
view.by_band(study)

# %%
view.band_figure(study)
plt.show()

# %%
view.verdicts_by_band(study)

# %% [markdown]
# **The conditional band is wider here, and misses a little more.** On the 13 runs with both kinds
# (198 held-out truths) the independent-study band covers 89% (MC SE 0.9 points), the conditional
# one 85% (MC SE 1.2), at a median 1.6 times the width. The width is the sampler's: with the spec's
# wide bounds as priors, pyabc stopped at its 8,000-cohort budget with the targets matched only to
# an RMS z of 2.3–7.3 (effective sample size 5–297; `data/validation/real_data_validation_runs.csv`),
# so the posterior is wide and the regression adjustment reaches far. Even so the conditional band
# misses most where the model is wrong: GBSG-2 41% (independent 72%), multivariable HRs 74% (86%),
# their P values 74% (84%). It covers lung fully and moves events from 84% to 92%. Its verdicts:
# *supported* for 20% of true numbers (as under the independent band), *contradicted* for 5.1%
# (3.5%), 16% of multivariable HRs. An earlier version of this band, with a sampler of its own that
# started near the posterior (targets matched to RMS z 1.1–2.1), gave bands 0.63 times as wide that
# covered 78%. A conditional band is only as narrow as its posterior is tight: on the four papers
# (targets matched to RMS z 0.7–2.1) its median width ratio is 0.88–1.16.
#
# ## What survives

# %%
notebook.prose_note("50_real_data_validation")

# %% [markdown]
# **On real patient data the held-out bands cover the truth 82–85% of the time, not 95%** — closer to
# 95% for medians, landmarks and log-rank P values, lowest (about 70–80%) for hazard ratios the
# calibration did not see and their P values. The cause is mostly structural, not Monte Carlo: the
# spec's model draws covariates independently of each other, and did so alike in both arms until
# now; with covariates by arm the shortfall shrinks, and what stays uncovered is the correlation
# between covariates that no printed table reveals (GBSG-2: 62% either way), an early-dying stage that
# one Weibull shape cannot draw (larynx stage III), and bands too wide for numbers that share patients
# with the fitted ones.
#
# For the four papers' held-out verdicts this means: a held-out number outside its band is not yet
# a discrepancy — about one true number in seven falls outside here, and *contradicted* fires on
# 4.5% of true numbers overall but on 8–10% of true hazard ratios, most of all multivariable ones
# where covariates go together (DESCAR-T's adjusted PFS-2 LDH HR above its unadjusted one is such
# a case). A *supported* verdict is rare (about one true number in five) but trustworthy (98% right
# at even odds); an *uninformative* one, the most common, says nothing either way.

# %%
# NBVAL_IGNORE_OUTPUT
notebook.watermark()
