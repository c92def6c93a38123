"""The HTML report: ``reports/index.html`` and one journal-club sheet per paper, opened from disk.

Built after the notebooks (``make all``, ``make notebook``). Everything is read, nothing is
recomputed: the scorecard (``reports/tables/scorecard.csv``), the audit, the run records of each
notebook (``reports/runs/``), the figures, the sensitivity sweeps and the table of printed numbers
that cannot all be true (``data/sensitivity/``, when swept), the ledgers (labels, source kinds,
claimed tokens) and the registry of papers (``data/reported/claims_index.yaml``). Executed
notebooks are rendered to HTML when their page is missing or older than the notebook.

The headline is counts of verdict statuses by role (``helpers.verdicts``): a printed number is
*supported* only by a check that could have failed; one that no same-size study could have told
apart from the check's alternative is *uninformative*, never "reproduced".
"""

from __future__ import annotations

import fnmatch
import html
import math
import sys
from datetime import datetime
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import yaml

from . import infeasibility, ledger, paths, results, runner, scorecard, sensitivity, verdicts
from .io import write_text_atomic

# ----------------------------------------------------------------------------- words
STATUS_WORDS = {
    "supported": "the printed number lies inside the 95% band of same-size simulated studies, and the check "
                 "had at least 80% power to flag it had the stated alternative been true: a check that could have failed, passed",
    "uninformative": "inside the band, but the check could hardly have failed: at the study's size, numbers "
                     "printed under the alternative would mostly have passed too",
    "borderline": "within Monte Carlo error of a band edge: the number of simulated studies, not the evidence, "
                  "would decide; no verdict",
    "contradicted": "outside the band by more than Monte Carlo error; the reason class says whether the printed "
                    "numbers cannot all be true (infeasible), the model cannot produce it, or a named assumption sets it",
    "input": "a printed count or size fed into the simulation: shown, not judged",
    "no-band": "re-derived from one simulated cohort, with no band of same-size studies to judge it against",
    "not-rederived": "printed but not re-derived (for example a background rate the paper cites)",
    "not-implemented": "a claim no notebook re-derives yet",
}  # fmt: skip
GLOSSARY = [
    ("printed", "the number as the source printed it (a rounded token: \"2.66\" stands for 2.655 to 2.665)."),
    ("same-size studies, 95% band", "the simulation is run many times at the study's own size (the replicate "
     "count is in the run table); the band holds the middle 95% of the re-derived values."),
    ("percentile", "where the printed value falls among those studies (a range when its rounding spans several); "
     "below 2.5% or above 97.5% is outside the band."),
    ("check power", "the chance the check would have flagged the printed number had the stated alternative been "
     "true (for an effect: the same model with the effect removed; for a median: 25% longer or shorter)."),
    ("power to reach P < .05", "the share of same-size studies that find the effect significant; low power means a "
     "significant result is luck as much as effect."),
    ("winner's curse (exaggeration)", "among same-size studies that reach significance, the typical estimate "
     "divided by the model's effect: 1.5x means a significant study overstates the effect by half."),
    ("input / calibrated / held-out", "an input was fed into the simulation; a calibrated number was used to "
     "fit it (or to set an assumption), so getting it back is a consistency check; a held-out number was not "
     "used at all, so agreement is a prediction. Roles are computed from what used each number, never typed."),
    ("assumption", "a value or analysis choice the source does not give (data/assumed/), with a reason and a "
     "range; the sensitivity sections move each one and show which verdicts change."),
]  # fmt: skip
ROLE_WORDS = {"input": "inputs", "calibrated": "calibrated", "held-out": "held out", "descriptive": "descriptive"}
COLUMN_WORDS = {
    "paper": "Paper", "role": "Role", "items": "Printed numbers", "claim_id": "Claim", "item": "Number",
    "check": "Check", "detail": "What was found", "kind": "Kind", "numbers": "Printed numbers",
    "explanation": "Why they cannot all hold", "conflict_se": "Distance (SE)", "status": "Status",
    "statuses across the sweep": "Statuses across the sweep", "changed by": "Changed by",
    "assumption": "Assumption", "value": "Value", "refit": "Refit", "objective": "Objective",
    "residuals": "Residuals", "status here": "Status in this report",
    "at the sweep's defaults": "At the sweep's defaults", **{s: s for s in verdicts.STATUSES},
    "reported": "Printed", "mc_lo": "Another study: from", "mc_hi": "to", "cond_lo": "Given the others: from",
    "cond_hi": "to ", "cond_status": "Status given the others", "width_ratio": "Width ratio (given / another)",
}  # fmt: skip
CAPTIONS_FILE = paths.DOCS / "figure_captions.yaml"

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:0 auto;padding:1rem;color:#222;line-height:1.45;overflow-wrap:break-word}
h1{font-size:1.55rem;margin-bottom:.2rem} h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2rem} h3{margin:1.2rem 0 .3rem}
.scroll{overflow-x:auto;max-width:100%;margin:.5rem 0 1rem;border:1px solid #eee}
table{border-collapse:collapse;font-size:.85rem;width:100%} th,td{border:1px solid #ddd;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} tr.claim td{background:#f7f7fb;font-weight:600} td.num{text-align:right;white-space:nowrap}
td.why{font-size:.78rem;color:#555;min-width:16rem} td.band{min-width:9rem} td.what{min-width:8rem}
.supported{color:#1a7f37;font-weight:600} .contradicted{color:#b42318;font-weight:600} .borderline{color:#b54708;font-weight:600}
.uninformative{color:#555;font-weight:600} .muted{color:#666} .note{background:#fff8e6;border-left:4px solid #f0b429;padding:.4rem .7rem}
nav{display:flex;flex-wrap:wrap;gap:.3rem 1rem} figure{margin:0 0 1.2rem} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#444}
.cards{display:flex;gap:.8rem;flex-wrap:wrap;margin:.8rem 0} .card{border:1px solid #ddd;border-radius:6px;padding:.5rem .8rem;flex:1 1 8rem;max-width:15rem}
.card b{font-size:1.4rem;display:block}
dl.glossary dt{font-weight:600;margin-top:.4rem} dl.glossary dd{margin-left:1rem}
@media print{nav{display:none} h2{page-break-before:always} figure img{max-width:90%}}
"""


# ----------------------------------------------------------------------------- small pieces
def _e(x) -> str:
    return html.escape(str(x))


def _page(title: str, body: str, up: str = "") -> str:
    return (
        f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
        f"<style>{CSS}</style></head><body>{up}{body}</body></html>\n"
    )


def _table(df: pd.DataFrame) -> str:
    """A frame as a table that scrolls inside its own box on a narrow screen, with human headers."""
    if df.empty:
        return "<p class='muted'>none</p>"
    out = df.rename(columns=lambda c: COLUMN_WORDS.get(c, c))
    return f"<div class='scroll'>{out.to_html(index=False, escape=True, border=0, na_rep='')}</div>"


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or (isinstance(x, str) and not x.strip())


def _f(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _pct(x, digits: int = 0) -> str:
    v = _f(x)
    return "" if math.isnan(v) else f"{100 * v:.{digits}f}%"


def _status(status: str, reason: str = "") -> str:
    why = f" <span class='muted'>({_e(reason.split(':')[0])})</span>" if reason else ""
    return f"<span class='{_e(status)}' title='{_e(STATUS_WORDS.get(status, ''))}'>{_e(status)}</span>{why}"


def _item_words(item: str) -> str:
    return str(item).replace("_", " ")


# ----------------------------------------------------------------------------- papers
class Paper:
    """What the report says about one paper of the registry, from its ledger (or why it cannot)."""

    def __init__(self, key: str):
        self.key = key
        try:
            led = ledger.load_paper(key)
        except ledger.LedgerError as exc:
            self.error, self.label, self.citation, self.doi, self.notebooks = str(exc), key, "", "", []
            self.source, self.kind = "", None
            return
        self.error = ""
        self.label, self.citation, self.doi = led.label or key, led.citation, led.doi
        self.notebooks, self.source, self.kind = list(led.notebooks), led.source, led.source_kind

    @property
    def kind_words(self) -> tuple[str, str]:
        return ledger.SOURCE_KINDS.get(self.kind, ("not stated", f"data/reported/{self.key}.yaml does not say what its "
                                                  "numbers were read from: add source_kind"))

    def source_html(self) -> str:
        label, limits = self.kind_words
        return (f"<p class='note'><b>Source: {_e(label)}.</b> {_e(self.source)}. "
                f"What that limits: {_e(limits)}.</p>")  # fmt: skip

    def heading(self) -> str:
        doi = f" · <a href='https://doi.org/{_e(self.doi)}'>doi:{_e(self.doi)}</a>" if self.doi else ""
        return f"<p>{_e(self.citation)}{doi}</p>"


def paper_info(paper: str) -> tuple[str, str, str, list[str]]:
    """Label, citation, DOI and notebooks of a paper, from its ledger."""
    p = Paper(paper)
    return p.label, p.citation, p.doi, p.notebooks


def papers() -> list[Paper]:
    return [Paper(p) for p in ledger.PAPERS]


def _printed_tokens() -> dict[str, dict]:
    """'CLAIM-ID/item' -> the ledger's printed P token, claimed direction and significance claim."""
    out = {}
    for p in ledger.PAPERS:
        try:
            df = ledger.frame(p)
        except ledger.LedgerError:
            continue
        for r in df.itertuples():
            out[f"{r.claim_id}/{r.item}"] = {"p": r.p_printed, "direction": r.direction or "",
                                             "significant": r.significant == "yes"}  # fmt: skip
    return out


# ----------------------------------------------------------------------------- one results row, in words
def printed_words(r, tokens: dict) -> str:
    """The number as printed: its token, CI and P token, or the claimed direction of a qualitative claim."""
    led = tokens.get(f"{r.claim_id}/{r['item']}", {})
    if r.quantity == "qualitative":
        return f"{led.get('direction') or 'claimed'}{' (significant)' if led.get('significant') else ''}"
    p_token = led.get("p") if not _missing(led.get("p")) else None
    if r.quantity == "P":
        token = p_token or (r.reported_printed if not _missing(r.reported_printed) else results.format_p(_f(r.reported)))
        return _p_words(token)
    token = r.reported_printed if not _missing(r.reported_printed) else results.format_value(r.reported, r.quantity)
    ci = ""
    if not _missing(r.reported_lo) and not _missing(r.reported_hi):
        ci = f" ({results.format_value(r.reported_lo, r.quantity)}–{results.format_value(r.reported_hi, r.quantity)})"
    return f"{token}{ci}{_p_words(p_token, prefix=', ')}" if p_token else f"{token}{ci}"


def _p_words(token: str, prefix: str = "") -> str:
    """'.03' -> 'P = .03'; '<.001' -> 'P < .001'."""
    token = str(token).strip()
    return f"{prefix}P {token[0]} {token[1:].strip()}" if token.startswith(("<", ">")) else f"{prefix}P = {token}"


def studies_words(r) -> str:
    """What same-size simulated studies give: the share showing a claimed direction, the share reaching a
    printed P, or the median and 95% band."""
    if r.status in ("input", "not-implemented", "not-rederived"):
        return ""
    if r.quantity == "qualitative":
        lo = _f(r.percentile_lo)
        return "" if math.isnan(lo) else f"show it in {_pct(1 - lo)} of same-size studies"
    if r.quantity == "P":
        reach = f"; {_pct(r.p_reach)} reach the printed P or lower" if not _missing(r.p_reach) else ""
        if _missing(r.mc_median):
            return reach.lstrip("; ")
        return (f"median P {results.format_p(_f(r.mc_median))} ({results.format_p(_f(r.mc_lo))}–"
                f"{results.format_p(_f(r.mc_hi))}){reach}")  # fmt: skip
    if _missing(r.mc_median):
        one = results.format_value(r.rederived, r.quantity)
        return f"one simulated cohort: {one}" if one else ""
    fmt = lambda x: "not reached" if math.isinf(_f(x)) else results.format_value(x, r.quantity)  # noqa: E731
    return f"{fmt(r.mc_median)} ({fmt(r.mc_lo)} to {fmt(r.mc_hi)})"


def power_words(r) -> str:
    if _missing(r.check_power):
        return ""
    return f"{_pct(r.check_power)} <span class='muted'>vs {_e(r.alternative)}</span>"


def percentile_words(r) -> str:
    text = results.format_percentile(_f(r.percentile_lo), _f(r.percentile_hi))
    if not text:
        return ""
    mcse = "" if _missing(r.percentile_mcse) else f" <span class='muted'>±{100 * _f(r.percentile_mcse):.1f}</span>"
    return f"{text}%{mcse}"


# ----------------------------------------------------------------------------- tables
CLAIM_HEAD = ("<tr><th>Number</th><th>Role</th><th>Printed</th><th>Same-size simulated studies: median "
              "(95% band)</th><th>Percentile of the printed value</th><th>Check power (alternative)</th>"
              "<th>Status</th><th>Why / how</th></tr>")  # fmt: skip


def claims_table(card: pd.DataFrame, paper: str, tokens: dict, texts: dict) -> str:
    """Every judged row of a paper under its claim; inputs folded away below."""
    df = card[card.paper == paper]
    if df.empty:
        return "<p class='muted'>No results rows yet: run the paper's notebook (make all).</p>"
    judged = df[df.status.ne("input")]
    rows = []
    for cid, g in judged.groupby("claim_id", sort=False):
        rows.append(f"<tr class='claim'><td colspan='8'>{_e(cid)}: {_e(texts.get(cid, ''))}</td></tr>")
        for _, r in g.iterrows():
            why = r.reason if r.status == "contradicted" and not _missing(r.reason) else r.note
            rows.append(
                f"<tr><td class='what'>{_e(_item_words(r['item']))}</td><td>{_e(r.role)}</td>"
                f"<td>{_e(printed_words(r, tokens))}</td><td class='band'>{_e(studies_words(r))}</td>"
                f"<td class='num'>{percentile_words(r)}</td><td>{power_words(r)}</td>"
                f"<td>{_status(r.status, r.reason if r.status == 'contradicted' and not _missing(r.reason) else '')}</td>"
                f"<td class='why'>{'' if _missing(why) else _e(why)}</td></tr>"
            )  # fmt: skip
    table = f"<div class='scroll'><table>{CLAIM_HEAD}{''.join(rows)}</table></div>" if rows else ""
    inputs = df[df.status.eq("input")]
    if len(inputs):
        listed = ", ".join(f"{r.claim_id} {_item_words(r['item'])} {printed_words(r, tokens)}" for _, r in inputs.iterrows())
        what = "printed count or size" if len(inputs) == 1 else "printed counts and sizes"
        table += (f"<details><summary>{len(inputs)} {what} fed into the simulation (inputs: shown, not "
                  f"judged)</summary><p class='muted'>{_e(listed)}</p></details>")  # fmt: skip
    return table


def status_counts(card: pd.DataFrame) -> pd.DataFrame:
    """Statuses per paper (label) and role, human headers."""
    if card.empty:
        return pd.DataFrame()
    tab = scorecard.summary(card).reset_index()
    labels = {p.key: p.label for p in papers()}
    tab["paper"] = tab.paper.map(lambda p: labels.get(p, p))
    tab["role"] = tab.role.map(lambda r: ROLE_WORDS.get(r, r))
    return tab


def _are(n: int) -> str:
    return f"{n} is" if n == 1 else f"{n} are"


def headline(card: pd.DataFrame) -> str:
    """The verdicts in one paragraph: supported, uninformative, borderline, contradicted, by role."""
    judged = card[card.status.isin(verdicts.JUDGED)]
    count = lambda df, s: int((df.status == s).sum())  # noqa: E731
    held = judged[judged.role == "held-out"]
    cal = judged[judged.role == "calibrated"]
    return (
        f"<p><b>Of {len(judged)} printed numbers judged against same-size simulated studies, "
        f"{_are(count(judged, 'supported'))} supported by a check that could have failed</b> "
        f"({count(held, 'supported')} of them held out, i.e. predictions; {count(cal, 'supported')} calibrated, "
        f"i.e. consistency checks); <b>{_are(count(judged, 'uninformative'))} uninformative</b> (inside the band, "
        f"but a same-size study could hardly have told them from the alternative); "
        f"{_are(count(judged, 'borderline'))} borderline; <b>{_are(count(judged, 'contradicted'))} contradicted</b> "
        f"({count(held, 'contradicted')} held out). A further {int((card.status == 'input').sum())} printed counts "
        f"were inputs to the simulation, {int(card.status.isin(['no-band', 'not-rederived']).sum())} have no band or "
        f"were not re-derived, and {int((card.status == 'not-implemented').sum())} claims are not implemented yet.</p>"
    )


def cards(card: pd.DataFrame, audit: pd.DataFrame) -> str:
    judged = card[card.status.isin(verdicts.JUDGED)]
    held = judged[judged.role == "held-out"]
    items = [
        (len(ledger.PAPERS), "papers"), (sum(len(v) for v in ledger.claims_index().values()), "claims"),
        (f"{(judged.status == 'supported').sum()}", f"supported ({(held.status == 'supported').sum()} held out)"),
        (f"{(judged.status == 'uninformative').sum()}", "uninformative"),
        (f"{(judged.status == 'contradicted').sum()}", f"contradicted ({(held.status == 'contradicted').sum()} held out)"),
        (f"{(judged.status == 'borderline').sum()}", "borderline"),
    ]  # fmt: skip
    if not audit.empty and "verdict" in audit:
        items.append((int((audit.verdict == "inconsistent").sum()), "audit findings"))
    return "<div class='cards'>" + "".join(f"<div class='card'><b>{_e(n)}</b>{_e(t)}</div>" for n, t in items) + "</div>"


def glossary() -> str:
    terms = [*GLOSSARY, *((f"status: {s}", w) for s, w in STATUS_WORDS.items())]
    kinds = [(f"source: {label}", limits) for label, limits in ledger.SOURCE_KINDS.values()]
    return ("<dl class='glossary'>" + "".join(f"<dt>{_e(t)}</dt><dd>{_e(d)}</dd>" for t, d in [*terms, *kinds])
            + "</dl>")  # fmt: skip


# ----------------------------------------------------------------------------- runs
def runs_table(root: Path) -> str:
    """Which seed, replicate count and parameters each notebook's numbers come from, and when."""
    runs = runner.runs(root)
    if not runs:
        return "<p class='muted'>No run records (reports/runs/): run <code>make all</code>.</p>"
    rows, odd = [], []
    for nb, rec in runs.items():
        nb_path = paths.NOTEBOOKS / f"{nb}.ipynb"
        defaults = runner.defaults(nb_path) if nb_path.exists() else {}
        unused = runner.unused(nb_path) if nb_path.exists() else set()
        changed = runner.changed(nb, rec)
        others = ", ".join(f"{k}={rec[k]}" for k in defaults if k not in runner.SHARED and k in rec)
        if changed:
            odd.append(nb)
        mark = {k: "—" if k in unused else f"<b>{_e(rec.get(k, ''))}</b>" if k in changed else _e(rec.get(k, ""))
                for k in runner.SHARED}  # fmt: skip
        link = f"<a href='notebooks/{_e(nb)}.html'>{_e(nb)}</a>" if (root / "notebooks" / f"{nb}.html").exists() else _e(nb)
        rows.append(f"<tr><td>{link}</td><td class='num'>{mark['seed']}</td><td class='num'>{mark['replicates']}</td>"
                    f"<td>{_e(others)}</td><td class='num'>{_e(rec.get('seconds', ''))} s</td>"
                    f"<td>{_e(str(rec.get('finished', '')).replace('T', ' '))}</td></tr>")  # fmt: skip
    for nb in runner.notebooks():
        if nb.stem not in runs:
            rows.append(f"<tr><td>{_e(nb.stem)}</td><td colspan='5' class='muted'>no record of a run in this "
                        f"reports/ (make all records every notebook)</td></tr>")  # fmt: skip
    head = ("<tr><th>Notebook</th><th>Seed</th><th>Replicates</th><th>Other parameters</th><th>Took</th>"
            "<th>Finished</th></tr>")  # fmt: skip
    note = ""
    if odd:
        note = (f"<p class='note'>Not at the default parameters (in bold): {_e(', '.join(odd))}. Their numbers differ "
                f"from the committed notebooks'; <code>make all</code> re-runs everything at the defaults.</p>")  # fmt: skip
    return note + f"<div class='scroll'><table>{head}{''.join(rows)}</table></div>"


# ----------------------------------------------------------------------------- figures
def captions() -> dict[str, str]:
    if not CAPTIONS_FILE.exists():
        return {}
    return yaml.safe_load(CAPTIONS_FILE.read_text(encoding="utf-8")) or {}


def caption_of(stem: str, paper_label: str = "", known: dict[str, str] | None = None) -> str:
    """What a figure shows (docs/figure_captions.yaml; '*' in a key stands for a paper's name)."""
    known = captions() if known is None else known
    text = known.get(stem) or next((v for k, v in known.items() if fnmatch.fnmatchcase(stem, k)), "")
    return text.replace("{paper}", paper_label or "this paper").strip()


def figures_of(paper: Paper, figures: list[Path]) -> list[Path]:
    """A paper's figures: those its notebooks wrote (named by notebook number) or named after it."""
    numbers = tuple(nb.split("_")[0] + "_" for nb in paper.notebooks)
    return [f for f in figures if (numbers and f.stem.startswith(numbers)) or paper.key in f.stem]


def figure_html(f: Path, label: str, known: dict[str, str]) -> str:
    text = caption_of(f.stem, label, known) or f"No caption yet for {f.stem}: add one to docs/figure_captions.yaml."
    return (f"<figure><a href='figures/{_e(f.name)}' title='open at full size'><img src='figures/{_e(f.name)}' "
            f"alt='{_e(text)}'></a><figcaption>{_e(text)} "
            f"<a href='figures/{_e(f.name)}'>Full size</a>.</figcaption></figure>")  # fmt: skip


# ----------------------------------------------------------------------------- sensitivity, infeasibility
def moved_by_assumptions(paper: str, card: pd.DataFrame) -> pd.DataFrame | None:
    """Judged numbers whose status changes somewhere in the one-at-a-time sweep, beside their status
    in this report; None before the first sweep."""
    if sensitivity.load(paper) is None:
        return None
    ch = sensitivity.changes(paper)
    ch = ch[ch["at the sweep's defaults"].ne("input") & ch["changed by"].fillna("").ne("")]
    now = card[card.paper == paper].set_index(["claim_id", "item"]).status.rename("status here")
    out = ch.join(now, on=["claim_id", "item"])
    return out[["claim_id", "item", "status here", "at the sweep's defaults", "statuses across the sweep", "changed by"]]


def sensitivity_html(paper: str, card: pd.DataFrame) -> str:
    """Which verdicts move when each assumption moves (data/sensitivity/<paper>.csv), or a note."""
    swept = sensitivity.load(paper)
    if swept is None:
        return ("<p class='note'>Not swept yet: run <code>make sensitivity</code> (several minutes) to move every "
                "assumption across its range, refit, and see which verdicts change.</p>")  # fmt: skip
    moved = swept.drop_duplicates(["assumption", "value"])
    moved = moved[~moved.is_default.astype(bool)]
    judged = swept[swept.is_default.astype(bool) & swept.status.isin(verdicts.JUDGED)]
    changing = moved_by_assumptions(paper, card)
    parts = [
        f"<p>Each of {moved.assumption.nunique()} assumptions was moved alone to each end of its range or to each "
        f"alternative ({len(moved)} points), the model refitted where it is calibrated, and every printed number "
        f"judged again against same-size studies (the same replicate seeds at every point). "
        f"<b>{len(changing)} of {len(judged)} judged numbers change status somewhere</b>; the others keep theirs at "
        f"every point. The sweep draws fewer studies per point than the notebooks, so near a band edge its "
        f"status at the defaults can differ from the one above.</p>",
        _table(changing.assign(item=changing["item"].map(_item_words))) if len(changing) else "",
    ]  # fmt: skip
    joint = sensitivity.load(paper, "_joint")
    if joint is not None and len(joint):
        base = swept[swept.is_default.astype(bool)].set_index(["claim_id", "item"]).status
        j = joint.dropna(subset=["status"]).join(base.rename("default"), on=["claim_id", "item"])
        j = j[j.status.ne("input")]
        flipped = j[j.status != j.default].drop_duplicates(["claim_id", "item"])
        names = sorted({a.split("=")[0].strip() for v in joint.value.dropna() for a in str(v).split(";")})
        parts.append(f"<p>Moved together ({', '.join(names)}; {joint.assumption.nunique()} points of a Latin "
                     f"hypercube): {len(flipped)} number{' takes' if len(flipped) == 1 else 's take'} another status at some point"
                     + (f" ({_e(', '.join(flipped.claim_id + ' ' + flipped['item'].map(_item_words)))})" if len(flipped) else "")
                     + ".</p>")  # fmt: skip
    failed = sensitivity.failed_points(paper)
    if "assumption" in failed:  # else a one-line note that every refit converged
        where = "; ".join(f"{a} = {', '.join(g.value.astype(str))}" for a, g in failed.groupby("assumption", sort=False))
        parts.append(f"<p class='muted'>At {len(failed)} of the {len(moved)} points the refit failed or stopped before "
                     f"converging ({_e(where)}): the verdicts there rest on an unfinished fit (residuals in "
                     f"data/sensitivity/{_e(paper)}.csv).</p>")  # fmt: skip
    return "".join(parts)


def infeasibility_html(audit: pd.DataFrame, labels: dict[str, str]) -> str:
    """The audit's arithmetic findings and the model-fit conflicts (data/sensitivity/infeasibility.csv)."""
    parts = ["<p>Two ways printed numbers can fail to hold together. <b>Arithmetic</b>: no values that round to "
             "the printed ones satisfy a relation between them (a percentage no whole count gives, a P value its "
             "CI does not give). <b>Model fit</b>: the model fitted to the paper's other numbers predicts this one "
             f"more than {infeasibility.CONFLICT_SE:g} of its standard errors away (leave one target out, then pairs).</p>",
             "<h3>Arithmetic (the audit)</h3>"]  # fmt: skip
    if audit.empty or "verdict" not in audit:
        parts.append("<p class='muted'>No audit table: run <code>make all</code>.</p>")
    else:
        bad = audit[audit.verdict == "inconsistent"].copy()
        bad["paper"] = bad.paper.map(lambda p: labels.get(p, p))
        bad["item"] = bad["item"].map(_item_words)
        parts.append(_table(bad[[c for c in ("paper", "claim_id", "item", "check", "detail") if c in bad]]))
    parts.append("<h3>Model fit</h3>")
    table = infeasibility.load()
    if table is None:
        parts.append("<p class='note'>Not computed yet: run <code>make sensitivity</code> (it refits each "
                     "calibration without each target).</p>")  # fmt: skip
        return "".join(parts)
    fit = table[table.kind == "model fit"].copy()
    conflicts = fit[pd.to_numeric(fit.conflict_se, errors="coerce") > infeasibility.CONFLICT_SE]
    parts.append(f"<p>{len(conflicts)} of {len(fit)} leave-out refits put the left-out number(s) more than "
                 f"{infeasibility.CONFLICT_SE:g} SE from what was printed:</p>")
    conflicts = conflicts.assign(paper=conflicts.paper.map(lambda p: labels.get(p, p)),
                                 conflict_se=pd.to_numeric(conflicts.conflict_se).round(1))  # fmt: skip
    parts.append(_table(conflicts[["paper", "numbers", "printed", "predicted", "conflict_se", "explanation"]]))
    return "".join(parts)


# ----------------------------------------------------------------------------- journal club
def significant_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Printed results called significant: a printed P (or a claim called significant) at most .05."""
    p = pd.to_numeric(rows.reported_p, errors="coerce")
    return rows[(p <= verdicts.SIGNIFICANCE) & rows.status.ne("input")]


def winners_curse(rows: pd.DataFrame, tokens: dict) -> str:
    sig = significant_rows(rows)
    if sig.empty:
        return "<p class='muted'>The source prints no significant result re-derived here.</p>"
    body = []
    for _, r in sig.iterrows():
        exaggeration = "" if _missing(r.exaggeration) else f"{_f(r.exaggeration):.2f}x"
        body.append(f"<tr><td>{_e(r.claim_id)} {_e(_item_words(r['item']))}</td><td class='num'>{_e(printed_words(r, tokens))}</td>"
                    f"<td class='num'>{_pct(r.power) or 'not computed'}</td><td class='num'>{_pct(r.p_reach)}</td>"
                    f"<td class='num'>{exaggeration or 'not computed'}</td><td>{_status(r.status)}</td></tr>")  # fmt: skip
    head = ("<tr><th>Result</th><th>Printed</th><th>Power at the study's size (share of same-size studies with "
            "P &lt; .05)</th><th>Share reaching the printed P or lower</th><th>Typical exaggeration of a "
            "significant estimate</th><th>Status</th></tr>")  # fmt: skip
    power = pd.to_numeric(sig.power, errors="coerce")
    low = int((power < 0.5).sum())
    words = (f"<p>If the model is right, a study of the same size finds these results significant "
             f"{_pct(power.min())} to {_pct(power.max())} of the time"
             + (f"; {low} of the {len(sig)} would be missed more often than found" if low else "")
             + ". A study that does reach significance tends to overstate the effect by the factor in the "
             "fifth column (1.00x: no exaggeration).</p>") if power.notna().any() else ""  # fmt: skip
    return words + f"<div class='scroll'><table>{head}{''.join(body)}</table></div>"


def survives(rows: pd.DataFrame, tokens: dict) -> str:
    """What survives, in plain words, from the statuses of a paper's numbers."""
    judged = rows[rows.status.isin(verdicts.JUDGED)]
    if judged.empty:
        return "<p class='muted'>Nothing judged yet for this paper.</p>"
    say = lambda df: ", ".join(f"{r.claim_id} {_item_words(r['item'])} ({printed_words(r, tokens)})" for _, r in df.iterrows())  # noqa: E731
    sup, uninf = judged[judged.status == "supported"], judged[judged.status == "uninformative"]
    contra, border = judged[judged.status == "contradicted"], judged[judged.status == "borderline"]
    held = judged[judged.role == "held-out"]
    out = [f"<p>{len(judged)} printed numbers could be judged against same-size simulated studies "
           f"({len(held)} held out, the rest calibrated: the simulation was fitted to them).</p><ul>"]  # fmt: skip
    if len(sup):
        out.append(f"<li><b>Supported by a check that could have failed ({len(sup)}, "
                   f"{int((sup.role == 'held-out').sum())} held out):</b> {_e(say(sup))}.</li>")
    else:
        out.append("<li><b>No printed number is supported by a check that could have failed.</b></li>")
    if len(uninf):
        out.append(f"<li><b>Cannot be tested at this study's size ({len(uninf)}):</b> the printed value is a "
                   f"plausible outcome of the model, but so would a value printed under the alternative be. "
                   f"Agreement here is not evidence.</li>")
    if len(contra):
        items = "".join(f"<li>{_e(r.claim_id)} {_e(_item_words(r['item']))} ({_e(printed_words(r, tokens))}): "
                        f"{_e(r.reason if not _missing(r.reason) else 'unexplained')}</li>" for _, r in contra.iterrows())  # fmt: skip
        out.append(f"<li><b>Contradicted ({len(contra)}):</b> outside the band of same-size studies.<ul>{items}</ul></li>")
    if len(border):
        out.append(f"<li><b>Borderline ({len(border)}):</b> {_e(say(border))}: too close to a band edge to call.</li>")
    return "".join(out) + "</ul>"


def journal_club_sheet(paper: Paper, card: pd.DataFrame, audit: pd.DataFrame, questions: dict,
                       tokens: dict, root: Path | None = None) -> str:  # fmt: skip
    texts = ledger.claim_texts()
    ids = ledger.claims_index()[paper.key]
    rows = card[card.paper == paper.key]
    if not audit.empty and {"paper", "verdict"} <= set(audit):
        findings = audit[(audit.paper == paper.key) & (audit.verdict == "inconsistent")]
    else:
        findings = pd.DataFrame()
    li = lambda items: "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>" if items else "<p class='muted'>none</p>"  # noqa: E731
    ch = moved_by_assumptions(paper.key, card)
    moving = [] if ch is None else [
        f"{r.claim_id} {_item_words(r['item'])}: {r['status here']} here, {r['statuses across the sweep']} across "
        f"the sweep; changed by {r['changed by']}" for _, r in ch.iterrows()]  # fmt: skip
    runs = runner.runs(root)
    moved = {nb: c for nb in paper.notebooks if (c := runner.changed(nb, runs.get(nb, {})))}
    warning = ("<p class='note'>These numbers come from a run away from the defaults ("
               + _e("; ".join(f"{nb}: " + ", ".join(f"{k}={v}" for k, v in c.items()) for nb, c in moved.items()))
               + "); <code>make all</code> restores the committed ones.</p>") if moved else ""  # fmt: skip
    body = [
        f"<h1>Journal club: {_e(paper.label)}</h1>", warning, paper.heading(), paper.source_html(),
        "<h2>Headline claims</h2>", li([f"{cid}: {texts[cid]}" for cid in ids]),
        "<h2>What survives</h2>", survives(rows, tokens),
        "<h2>Significant results and the winner's curse</h2>",
        "<p>For every printed result called significant: how often a study of the same size finds it significant "
        "if the model is right (its power), and by how much a study that does find it overstates the effect.</p>",
        winners_curse(rows, tokens),
        "<h2>Which verdicts rest on an assumption</h2>",
        (li(moving) if moving else "<p>No verdict changes when any one assumption moves across its range.</p>")
        if ch is not None else "<p class='muted'>Not swept yet: run <code>make sensitivity</code>.</p>",
        "<h2>What the audit of the printed numbers found</h2>",
        li([f"{r.claim_id} {_item_words(r.item)} [{r.check}]: {r.detail}" for r in findings.itertuples()])
        if len(findings) else "<p class='muted'>no internal inconsistency found</p>",
        "<h2>Three questions to ask of this paper</h2>", li(questions.get(paper.key, [])),
        "<p class='muted'>Terms (supported, uninformative, band, power): see the glossary of the "
        "<a href='../index.html#glossary'>report</a>.</p>",
    ]  # fmt: skip
    return _page(f"Journal club: {paper.label}", "".join(body), up="<nav><a href='../index.html'>← report</a></nav>")


# ----------------------------------------------------------------------------- notebooks
def render_notebooks(root: Path) -> list[Path]:
    """Executed notebooks under reports/notebooks -> HTML beside them. The runner renders each page as
    its notebook finishes; here only those missing or older than their notebook (an older run)."""
    out = []
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        target = nb.with_suffix(".html")
        if not target.exists() or target.stat().st_mtime < nb.stat().st_mtime:
            runner.html_page(nb)
        out.append(target)
    return out


# ----------------------------------------------------------------------------- the site
def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=True, dtype={"reported_printed": str}) if path.exists() else pd.DataFrame()


def two_bands_html(root: Path, known: dict[str, str]) -> str:
    """Where the conditional band (given the paper's other printed numbers) and today's band (another
    study of this size) differ most, per paper (``helpers.conditional``)."""
    from . import conditional

    tables = [pd.read_csv(p) for p in sorted((root / "tables" / "results").glob("*.csv"))]
    shown = conditional.report_table(tables)
    intro = ("<p>Two bands answer two questions. <b>Another study of this size</b>: what a new study of the "
             "same size would show, were the fitted parameters exactly true. <b>Given the other printed "
             "numbers</b>: where this number should lie, given the numbers the paper printed from the same "
             "patients, with the uncertainty of the fitted parameters included (an approximate posterior by "
             "ABC-SMC, committed by <code>make calibrate</code>). The second can be narrower next to a fitted "
             "number and wider where the fit is loose.</p>")  # fmt: skip
    if shown.empty:
        return intro + "<p class='muted'>No posterior committed yet: run <code>make calibrate</code>.</p>"
    fig = conditional.report_figure(tables)
    target = root / "figures" / "two_bands.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110, bbox_inches="tight")
    plt.close(fig)
    labels = {p.key: p.label for p in papers()}
    shown = shown.assign(paper=shown["paper"].map(lambda k: labels.get(k, k)), item=shown["item"].map(_item_words))
    shown = shown.replace({"inf": "not reached", "nan": ""})  # an upper bound past every draw: a median not reached
    return intro + _table(shown) + figure_html(target, "", known)


def known_truth_html() -> str:
    """The known-truth study of the conditional band (``make validate-conditional``), when committed:
    how often each band covers a toy paper's own held-out numbers, by sampler and assumed shape."""
    from . import known_truth

    path = paths.DOCS / "figures" / known_truth.COVERAGE_TABLE
    if not path.exists():
        return ""
    cov = pd.read_csv(path)
    cov = cov[cov["band"].isin(["conditional", "independent"])]
    table = cov.pivot_table(index=["method", "assumed", "papers"], columns=["item", "band"], values="coverage", sort=False)
    table.columns = [f"{'S(6)' if item == 's6' else 'S(12)'} {band}" for item, band in table.columns]
    table = table.map(lambda v: f"{100 * v:.1f}%").reset_index()
    return ("<h3>Known truth: do the bands cover what they should?</h3><p>Toy papers simulated from known "
            "parameters (238 patients, Weibull survival, the printed Kaplan–Meier median as the target, S(6) and "
            "S(12) of the same patients held out), printed as a paper would print them. A 95% band should cover "
            "the paper's own held-out number 95% of the time; a wrong assumed shape should show as a shortfall. "
            "Each share is over the papers in the row (MC SE about 0.7 points at 1,000 papers, 1.4 at 250).</p>"
            + _table(table))  # fmt: skip


_SHARE_WORDS = {"pooled": "papers' model:", "by_arm": "covariates by arm:", "mc_se": "MC SE",
                "mimic": "split like the papers'", "split_sd": "SD between splits", "band_width": "median width",
                "misses_below": "misses below", "misses_above": "misses above", "paired": ""}  # fmt: skip
_SHARES = ("coverage", "mc_se", "mimic", "split_sd", "supported", "contradicted", "uninformative", "borderline")


def _readable_shares(table: pd.DataFrame) -> pd.DataFrame:
    """A validation table for readers: shares as percentages, human column words, the row label named."""
    out = table.copy()
    for col in out.columns:
        last = col[-1] if isinstance(col, tuple) else col
        if any(w in str(last) for w in _SHARES) and pd.api.types.is_numeric_dtype(out[col]):
            digits = 1 if last == "mc_se" else 0  # an MC SE under 1% would read as 0%
            out[col] = out[col].map(lambda v, d=digits: "—" if pd.isna(v) else f"{100 * v:.{d}f}%")
    out.columns = [" ".join(_SHARE_WORDS.get(str(c), str(c)) for c in (col if isinstance(col, tuple) else (col,))).strip()
                   for col in out.columns]  # fmt: skip
    label = {"kind": "kind of number", "dataset": "data set", "band": "band"}.get(out.index.name or "", "kind of number")
    return out.rename_axis(label).reset_index()


def trust_html(root: Path, known: dict[str, str]) -> str:
    """How often the held-out bands cover the truth on real patient data (``helpers.realdata``)."""
    from .realdata import view

    try:
        section = view.section()
    except FileNotFoundError as exc:
        return f"<p class='muted'>No real-data validation committed yet ({_e(exc)}): run make validate-real.</p>"
    overall = section["tables"]["coverage by kind"].loc["all"]
    parts = [f"<p>Five real patient-level data sets shipped with lifelines were summarised as a clinical paper "
             f"would print them; some numbers were fitted, the others predicted, and each held-out 95% band "
             f"compared with the true value computed from the patients. Held-out bands covered the truth "
             f"{_pct(overall[('pooled', 'coverage')])} of the time with the papers' kind of model "
             f"({_pct(overall[('by_arm', 'coverage')])} with covariates drawn by arm), not 95%: read a "
             f"<i>contradicted</i> held-out number as a prompt to look, not as proof of an error. "
             f"Notebook 50 has the detail.</p>"]  # fmt: skip
    for name, table in section["tables"].items():
        parts += [f"<h3>{_e(name.capitalize())}</h3>", _table(_readable_shares(table))]
    for key in ("figure", "figure_bands"):  # the second: both band kinds, once the study has them
        fig = root / "figures" / section[key].name if key in section else None
        if fig is not None and fig.exists():
            parts.append(figure_html(fig, "", known))
    return "".join(parts)


def build(root: Path | None = None) -> Path:
    root = root or paths.PROJ_ROOT / "reports"
    if not (root / "tables" / "scorecard.csv").exists():
        raise FileNotFoundError(f"{root}/tables/scorecard.csv is missing: run `make all` first")
    card = _read_csv(root / "tables" / "scorecard.csv")
    audit = _read_csv(root / "tables" / "audit.csv")
    questions = yaml.safe_load((paths.DOCS / "journal_club_questions.yaml").read_text(encoding="utf-8")) or {}
    notebooks = render_notebooks(root)
    figures = sorted((root / "figures").glob("*.png"))
    known = captions()
    tokens = _printed_tokens()
    texts = ledger.claim_texts()
    all_papers = papers()
    labels = {p.key: p.label for p in all_papers}
    n_claims = sum(len(v) for v in ledger.claims_index().values())

    parts = [
        f"<h1>CAR T-cell failure in large B-cell lymphoma: {len(all_papers)} studies re-derived</h1>",
        f"<p class='muted'>Built {datetime.now():%Y-%m-%d %H:%M}. Every number printed by {len(all_papers)} studies "
        f"({n_claims} claims) is checked against the paper's other numbers and re-derived from simulated cohorts "
        "of the study's own size. A printed number is called <i>supported</i> only when a check that could have "
        "failed passed; <a href='#glossary'>glossary</a>.</p>",
        "<nav>" + "".join(f"<a href='#{_e(p.key)}'>{_e(p.label)}</a>" for p in all_papers)
        + "<a href='#two-bands'>Two bands</a><a href='#trust'>How far to trust</a>"
        + "<a href='#cannot-all-be-true'>Numbers that cannot all be true</a><a href='#runs'>Runs</a>"
        + "<a href='#glossary'>Glossary</a></nav>",
        cards(card, audit), headline(card),
        "<h2>Statuses per paper and role</h2>", _table(status_counts(card)),
        "<h2 id='glossary'>What the words mean</h2>", glossary(),
        "<h2 id='runs'>Where the numbers come from</h2>", runs_table(root),
    ]  # fmt: skip
    sheets = root / "journal_club"
    for paper in all_papers:
        parts.append(f"<h2 id='{_e(paper.key)}'>{_e(paper.label)}</h2>")
        if paper.error:
            parts += [f"<p class='note'>This paper is registered but its ledger cannot be read: {_e(paper.error)}</p>",
                      claims_table(card, paper.key, tokens, texts)]  # fmt: skip
            continue
        write_text_atomic(journal_club_sheet(paper, card, audit, questions, tokens, root), sheets / f"{paper.key}.html")
        nb_links = ", ".join(f"<a href='notebooks/{_e(nb)}.html'>{_e(nb)}</a>" for nb in paper.notebooks
                             if (root / "notebooks" / f"{nb}.html").exists()) or "not run yet"  # fmt: skip
        parts += [
            paper.heading(), paper.source_html(),
            f"<p><a href='journal_club/{_e(paper.key)}.html'>Journal-club sheet</a> · notebooks: {nb_links}</p>",
            claims_table(card, paper.key, tokens, texts),
            *[figure_html(f, paper.label, known) for f in figures_of(paper, figures)],
            "<h3>Sensitivity: which verdicts move when an assumption moves</h3>",
            sensitivity_html(paper.key, card) if (paths.ASSUMED / f"{paper.key}.yaml").exists()
            else "<p class='muted'>No assumptions recorded for this paper.</p>",
        ]  # fmt: skip
    parts += ["<h2 id='two-bands'>Two bands per held-out number</h2>", two_bands_html(root, known), known_truth_html()]
    parts += ["<h2 id='trust'>How far can the held-out predictions be trusted?</h2>", trust_html(root, known)]
    parts += ["<h2 id='cannot-all-be-true'>Numbers that cannot all be true</h2>", infeasibility_html(audit, labels)]
    parts += [figure_html(f, "", known) for f in figures if f.stem.startswith("audit")]
    parts += ["<h2 id='notebooks'>Executed notebooks</h2><ul>"]
    parts += [f"<li><a href='notebooks/{_e(p.name)}'>{_e(p.stem)}</a></li>" for p in notebooks] + ["</ul>"]
    index = root / "index.html"
    write_text_atomic(_page("CAR T failure: re-derived", "".join(parts)), index)
    return index


def main(argv: list[str] | None = None) -> int:
    """Build the site; ``--if-ready`` (after ``make notebook``): without a scorecard yet, say how to
    get one instead of failing a run that succeeded."""
    args = sys.argv[1:] if argv is None else argv
    root = paths.PROJ_ROOT / "reports"
    if "--if-ready" in args and not (root / "tables" / "scorecard.csv").exists():
        print("reports/index.html is built once every notebook has run: make all")
        return 0
    try:
        with runner.run_lock(root, "building the report"):
            index = build(root)
    except (FileNotFoundError, runner.RunnerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the report was not rebuilt; the pages of the last good build are intact", file=sys.stderr)
        return 130
    missing = sorted({f.stem for f in (root / "figures").glob("*.png") if not caption_of(f.stem)})
    if missing:
        print(f"warning: figures without a caption: {', '.join(missing)} (add them to docs/figure_captions.yaml)")
    print(f"Report: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
