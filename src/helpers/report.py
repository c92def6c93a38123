"""The HTML report: ``reports/index.html``, opened from disk with no server.

Built after the notebooks by ``make all``: the scorecard per paper and role, the audit's
findings, each paper's figures, one journal-club sheet per paper, and every executed notebook
rendered to HTML and linked. Everything is read from ``reports/`` (tables, figures, executed
notebooks); nothing is recomputed here.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

import pandas as pd
import yaml

from . import ledger, paths, scorecard
from .io import write_text_atomic


def paper_info(paper: str) -> tuple[str, str, str, list[str]]:
    """Label, citation, DOI and notebooks of a paper, from its ledger file."""
    led = ledger.load_paper(paper)
    return led.label or paper, led.citation, led.doi, led.notebooks


def figures_of(paper: str, figures: list[Path]) -> list[Path]:
    """A paper's figures: those its notebooks wrote (named by notebook number) or named after it."""
    numbers = tuple(nb.split("_")[0] + "_" for nb in paper_info(paper)[3])
    return [f for f in figures if f.stem.startswith(numbers) or paper in f.stem]


REPRODUCED = ("reproduced", "direction-reproduced")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:0 auto;padding:1rem 1.5rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2rem} h3{margin-bottom:.3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem;width:100%} th,td{border:1px solid #ddd;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} tr:nth-child(even) td{background:#fbfbfb}
.ok{color:#1a7f37;font-weight:600} .bad{color:#b42318;font-weight:600} .muted{color:#666}
nav a{margin-right:1rem} figure{margin:0 0 1rem} figure img{max-width:100%;border:1px solid #eee}
.cards{display:flex;gap:1rem;flex-wrap:wrap} .card{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;min-width:10rem}
.card b{font-size:1.4rem;display:block}
@media print{nav{display:none} h2{page-break-before:always} figure img{max-width:90%}}
"""


def _page(title: str, body: str, up: str = "") -> str:
    return (
        f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{up}{body}</body></html>\n"
    )


def _table(df: pd.DataFrame) -> str:
    if df.empty:
        return "<p class='muted'>none</p>"
    return df.to_html(index=False, escape=True, border=0, na_rep="")


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False) if path.exists() else pd.DataFrame()


def _status_cell(status: str) -> str:
    cls = "ok" if status in REPRODUCED else "bad" if "not-" in status else "muted"
    return f"<span class='{cls}'>{html.escape(status)}</span>"


def _fmt(x) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "" if v != v else f"{v:.3g}"


def render_notebooks(root: Path) -> list[Path]:
    """Executed notebooks under reports/notebooks -> HTML beside them."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    out = []
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        body, _ = exporter.from_filename(str(nb))
        target = nb.with_suffix(".html")
        write_text_atomic(body, target)
        out.append(target)
    return out


def _claims_table(card: pd.DataFrame, paper: str) -> str:
    df = card[card.paper == paper]
    if df.empty:
        return "<p class='muted'>no rows</p>"
    rows = []
    for r in df.itertuples():
        band = f"{_fmt(r.mc_lo)} – {_fmt(r.mc_hi)}" if _fmt(r.mc_lo) else ""
        rows.append(
            f"<tr><td>{r.claim_id}</td><td>{html.escape(str(r.item))}</td><td>{r.role}</td>"
            f"<td>{_fmt(r.reported)}</td><td>{_fmt(r.rederived)}</td><td>{band}</td>"
            f"<td>{_status_cell(r.status)}</td><td class='muted'>{html.escape(str(r.note))}</td></tr>"
        )
    head = "<tr><th>claim</th><th>item</th><th>role</th><th>printed</th><th>re-derived</th><th>95% MC band</th><th>status</th><th>note</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def journal_club_sheet(paper: str, card: pd.DataFrame, audit: pd.DataFrame, questions: dict) -> str:
    title, journal, doi, _ = paper_info(paper)
    texts = ledger.claim_texts()
    ids = ledger.claims_index()[paper]
    rows = card[card.paper == paper]
    held = rows[rows.role.eq("held-out")]
    supported = held[held.status.isin(REPRODUCED)]
    unsupported = rows[rows.status.str.contains("not-")]
    findings = audit[(audit.get("paper", pd.Series(dtype=str)) == paper) & (audit.get("verdict", pd.Series(dtype=str)) == "inconsistent")] if not audit.empty else audit
    li = lambda items: "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>" if items else "<p class='muted'>none</p>"  # noqa: E731
    body = [
        f"<h1>Journal club: {html.escape(title)}</h1><p>{html.escape(journal)} · doi:{doi}</p>",
        "<h2>Headline claims</h2>", li([f"{cid}: {texts[cid]}" for cid in ids]),
        "<h2>What the re-derivation supports</h2><p>Held-out numbers (not used to fit the simulation) that a same-size simulated study reproduces:</p>",
        li([f"{r.claim_id} {r.item}: printed {_fmt(r.reported)}, band {_fmt(r.mc_lo)}–{_fmt(r.mc_hi)}" for r in supported.itertuples()]),
        "<h2>What it does not support</h2>",
        li([f"{r.claim_id} {r.item} ({r.status}): {r.note}" for r in unsupported.itertuples()]),
        "<h2>What the audit of the printed numbers found</h2>",
        li([f"{r.claim_id} {r.item} [{r.check}]: {r.detail}" for r in findings.itertuples()]) if not findings.empty else "<p class='muted'>no internal inconsistency found</p>",
        "<h2>Three questions to ask of this paper</h2>", li(questions.get(paper, [])),
    ]  # fmt: skip
    return _page(f"Journal club: {title}", "".join(body), up="<nav><a href='../index.html'>← report</a></nav>")


def build(root: Path | None = None) -> Path:
    root = root or paths.PROJ_ROOT / "reports"
    if not (root / "tables" / "scorecard.csv").exists():
        raise FileNotFoundError(f"{root}/tables/scorecard.csv is missing: run `make all` first")
    card = _read_csv(root / "tables" / "scorecard.csv")
    audit = _read_csv(root / "tables" / "audit.csv")
    questions = yaml.safe_load((paths.DOCS / "journal_club_questions.yaml").read_text(encoding="utf-8"))
    notebooks = render_notebooks(root)
    figures = sorted((root / "figures").glob("*.png"))

    judged = card[card.status.isin([*REPRODUCED, "not-reproduced", "direction-not-reproduced"])]
    n_rep = judged.status.isin(REPRODUCED).sum()
    held = judged[judged.role == "held-out"]
    cards = (
        f"<div class='cards'><div class='card'><b>{card.claim_id.nunique()}</b>claims</div>"
        f"<div class='card'><b>{len(card)}</b>result rows</div>"
        f"<div class='card'><b>{n_rep}/{len(judged)}</b>reproduced (all roles)</div>"
        f"<div class='card'><b>{held.status.isin(REPRODUCED).sum()}/{len(held)}</b>held-out reproduced</div>"
        f"<div class='card'><b>{(card.status == 'not-implemented').sum()}</b>claims not implemented</div>"
        + (f"<div class='card'><b>{(audit.verdict == 'inconsistent').sum()}</b>audit findings</div>" if not audit.empty else "")
        + "</div>"
    )
    summary = scorecard.summary(card).reset_index()
    parts = [
        "<h1>CAR T-cell failure in LBCL: four studies re-derived</h1>",
        "<p class='muted'>Every number printed by four studies, checked for internal consistency and re-derived from simulated cohorts. "
        "Calibrated items were used to fit the simulation (a consistency check); held-out items were predicted.</p>",
        "<nav>" + "".join(f"<a href='#{p}'>{paper_info(p)[0]}</a>" for p in ledger.PAPERS) + "<a href='#audit'>Audit</a><a href='#notebooks'>Notebooks</a></nav>",
        cards, "<h2>Scorecard per paper and role</h2>", _table(summary),
    ]  # fmt: skip
    sheets = root / "journal_club"
    for paper in ledger.PAPERS:
        title, journal, doi, nbs = paper_info(paper)
        write_text_atomic(journal_club_sheet(paper, card, audit, questions), sheets / f"{paper}.html")
        figs = figures_of(paper, figures)
        parts += [
            f"<h2 id='{paper}'>{html.escape(title)}</h2><p>{html.escape(journal)} · doi:{doi} · "
            f"<a href='journal_club/{paper}.html'>journal-club sheet</a> · notebooks: "
            + ", ".join(f"<a href='notebooks/{nb}.html'>{nb}</a>" for nb in nbs
                        if (root / "notebooks" / f"{nb}.html").exists()) + "</p>",
            _claims_table(card, paper),
            *[f"<figure><img src='figures/{f.name}' alt='{f.stem}'><figcaption class='muted'>{f.stem}</figcaption></figure>" for f in figs],
        ]  # fmt: skip
    if not audit.empty:
        bad = audit[audit.verdict == "inconsistent"]
        cols = [c for c in ("paper", "claim_id", "item", "check", "detail") if c in bad]
        parts += ["<h2 id='audit'>Audit: printed numbers that disagree with each other</h2>", _table(bad[cols])]
        parts += [f"<figure><img src='figures/{f.name}' alt='{f.stem}'></figure>" for f in figures if f.stem.startswith("audit")]
    parts += ["<h2 id='notebooks'>Executed notebooks</h2><ul>"]
    parts += [f"<li><a href='notebooks/{p.name}'>{p.stem}</a></li>" for p in notebooks] + ["</ul>"]
    index = root / "index.html"
    write_text_atomic(_page("CAR T failure: re-derived", "".join(parts)), index)
    return index


def main() -> int:
    try:
        index = build()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
