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
# # 00 · The ledger: every number the papers print
#
# **Reproduces:** nothing yet: this is the reader's first stop. It loads every printed number
# of every claim of every paper registered in `data/reported/claims_index.yaml` from
# `data/reported/`, validates it against one schema, and shows it per paper with where it was
# printed. The papers, with what kind of text their numbers were read from (which limits what can
# be checked: see `helpers.ledger.SOURCE_KINDS`), are listed below.

# %% tags=["parameters"]
seed: int = 20221208  # not used here; every notebook takes the same two parameters
replicates: int = 200  # not used here

# %%
from IPython.display import Markdown, display

from helpers import ledger, notebook

rng = notebook.start(seed, replicates)
ledger.papers_frame()

# %% [markdown]
# Loading validates each file: a missing claim, a repeated item or a CI whose bounds are
# reversed stops here with a message naming the file, the claim and the field. Numbers stay as
# printed (`printed`, `lo_printed`, `hi_printed`, `p_printed`); `value`, `lo`, `hi` and `p` are
# their parsed forms, empty when the token is not a number ("NR", or a typo).

# %%
reported = ledger.load_all()
reported.groupby("paper", sort=False).agg(claims=("claim_id", "nunique"), items=("item", "size"))

# %% [markdown]
# Every claim ID of the project's claims index has an entry, and tokens that do not parse are
# listed rather than repaired. The audit notebook (01) checks whether they agree with each other.

# %%
index = ledger.claims_index()
missing = {p: sorted(set(ids) - set(reported.claim_id)) for p, ids in index.items()}
assert not any(missing.values()), missing
reported.loc[reported.malformed.notna(), ["claim_id", "item", "printed", "lo_printed", "hi_printed", "malformed"]]

# %% [markdown]
# ## The ledger, paper by paper
# Every paper of `data/reported/claims_index.yaml`, in its order. The columns a reader needs to find each number in the paper: the claim, the item, the
# printed token(s) and where it was printed.

# %%
SHOWN = ["claim_id", "item", "quantity", "printed", "lo_printed", "hi_printed", "p_printed", "n", "where"]


def show(paper):
    df = reported.loc[reported.paper == paper, SHOWN].copy()
    df["n"] = df["n"].map(lambda x: "" if x != x else f"{x:.0f}")
    return df.fillna("").set_index(["claim_id", "item"])


for paper in ledger.PAPERS:
    display(Markdown(f"### {ledger.load_paper(paper).label or paper}"), show(paper))

# %% [markdown]
# ## Versions

# %%
# NBVAL_IGNORE_OUTPUT
notebook.watermark()
