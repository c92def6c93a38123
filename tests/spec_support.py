"""Test support for spec papers: register a paper in a scratch copy of data/ (never the real one).

``register(data, monkeypatch, name, ...)`` writes the paper's claims-index entry, ledger,
assumptions and spec under the scratch ``data`` folder (from ``tests/spec_toy/`` by default) and
points the registry (``ledger.PAPERS``, ``ledger.PREFIX``, ``calibrate.CALIBRATED_PAPERS``) at it.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from helpers import calibrate, contract, ledger, provenance

TOY = Path(__file__).parent / "spec_toy"


def refresh_registry(monkeypatch) -> None:
    papers, prefix = ledger._registry()
    monkeypatch.setattr(ledger, "PAPERS", papers)
    monkeypatch.setattr(ledger, "PREFIX", prefix)
    monkeypatch.setattr(calibrate, "CALIBRATED_PAPERS", tuple(p for p in papers if contract.declares(p, "calibration")))
    ledger.clear_caches()
    provenance._roles.cache_clear()


def register(data: Path, monkeypatch, name: str = "toy", *, ledger_text: str | None = None,
             assumed_text: str | None = None, spec_text: str | None = None) -> Path:  # fmt: skip
    """Add paper ``name`` to the scratch ``data``; returns its spec path."""
    led = ledger_text if ledger_text is not None else (TOY / "ledger.yaml").read_text(encoding="utf-8")
    index_path = data / "reported" / "claims_index.yaml"
    index = yaml.safe_load(index_path.read_text(encoding="utf-8"))
    claims = yaml.load(led, Loader=yaml.BaseLoader)["claims"]
    index[name] = [{"claim_id": c["claim_id"], "claim": c["claim"]} for c in claims]
    index_path.write_text(yaml.safe_dump(index, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (data / "reported" / f"{name}.yaml").write_text(led, encoding="utf-8")
    (data / "assumed" / f"{name}.yaml").write_text(
        assumed_text if assumed_text is not None else (TOY / "assumed.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    spec = data / "specs" / f"{name}.yaml"
    spec.parent.mkdir(exist_ok=True)
    spec.write_text(spec_text if spec_text is not None else (TOY / "spec.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    refresh_registry(monkeypatch)
    monkeypatch.setenv("CART_WORKERS", "1")  # a scratch paper is registered in this process only
    return spec
