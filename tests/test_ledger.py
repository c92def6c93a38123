"""The ledger loads, covers every claim, and refuses malformed entries with a message that helps."""

import pytest
import yaml

from helpers import ledger, paths

EXPECTED_CLAIMS = {"jain": 12, "figura": 11, "descart": 20, "ventin": 5}  # the four source papers


def test_claims_index_lists_every_claim_of_the_four_papers():
    index = ledger.claims_index()  # a paper added later may follow; these four must stay whole
    assert {p: len(index.get(p, [])) for p in EXPECTED_CLAIMS} == EXPECTED_CLAIMS
    for paper, ids in index.items():
        assert ids == [f"{ledger.PREFIX[paper]}-{i:02d}" for i in range(1, len(ids) + 1)]


@pytest.mark.parametrize("paper", ledger.PAPERS)
def test_each_paper_loads_and_covers_its_claims(paper):
    df = ledger.frame(paper)
    assert set(df.claim_id) == set(ledger.claims_index()[paper])
    assert df["where"].str.len().min() >= 3  # every number says where it was printed


def test_printed_tokens_are_kept_beside_parsed_values():
    df = ledger.load_all()
    numeric = df[df.quantity != "qualitative"]
    parsed = numeric.dropna(subset=["printed"])
    assert parsed.printed.map(type).eq(str).all()


def _write(data_dir, paper, mutate):
    path = data_dir / "reported" / f"{paper}.yaml"
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    mutate(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _first_numeric(doc):
    for claim in doc["claims"]:
        for item in claim["items"]:
            if item["quantity"] != "qualitative":
                return claim, item
    raise AssertionError("no numeric item")


def test_unknown_quantity_kind_names_file_claim_item_and_field(scratch_data):
    def mutate(doc):
        claim, item = _first_numeric(doc)
        item["quantity"] = "hazard"
        mutate.where = (claim["claim_id"], item["item"])

    _write(scratch_data, "figura", mutate)
    with pytest.raises(ledger.LedgerError) as err:
        ledger.load_paper("figura")
    msg = str(err.value)
    assert "figura.yaml" in msg and mutate.where[0] in msg and mutate.where[1] in msg and "quantity" in msg


def test_reversed_ci_is_refused(scratch_data):
    def mutate(doc):
        claim = next(c for c in doc["claims"] if c["claim_id"] == "FIG-06")
        item = claim["items"][0]
        item["lo"], item["hi"] = "3.55", "1.55"

    _write(scratch_data, "figura", mutate)
    with pytest.raises(ledger.LedgerError, match=r"FIG-06.*lower bound"):
        ledger.load_paper("figura")


def test_missing_claim_is_refused(scratch_data):
    _write(scratch_data, "figura", lambda doc: doc["claims"].pop(0))
    with pytest.raises(ledger.LedgerError, match=r"FIG-01 missing"):
        ledger.load_paper("figura")


def test_duplicate_claim_is_refused(scratch_data):
    _write(scratch_data, "figura", lambda doc: doc["claims"].append(doc["claims"][0]))
    with pytest.raises(ledger.LedgerError, match=r"FIG-01 entered twice"):
        ledger.load_paper("figura")


def test_missing_file_says_how_to_restore_it(scratch_data):
    (scratch_data / "reported" / "jain.yaml").unlink()
    with pytest.raises(ledger.LedgerError, match=r"file not found.*git checkout"):
        ledger.load_paper("jain")


def test_invalid_yaml_is_refused(scratch_data):
    (scratch_data / "reported" / "ventin.yaml").write_text("claims: [\n  - {", encoding="utf-8")
    with pytest.raises(ledger.LedgerError, match="not valid YAML"):
        ledger.load_paper("ventin")


def test_unknown_paper_lists_the_known_ones():
    with pytest.raises(ledger.LedgerError, match="jain, figura, descart, ventin"):
        ledger.load_paper("smith2020")


def test_relation_to_a_missing_item_is_refused(scratch_data):
    def mutate(doc):
        doc.setdefault("relations", []).append({"kind": "subset", "items": ["FIG-02/nope"], "total": "FIG-01/nope"})

    _write(scratch_data, "figura", mutate)
    with pytest.raises(ledger.LedgerError, match="FIG-02/nope"):
        ledger.load_paper("figura")


def test_real_ledgers_are_untouched_by_the_scratch_fixture(scratch_data):
    assert paths.REPORTED == scratch_data / "reported"
