"""Study specs (helpers.spec.schema, helpers.spec.plan): a malformed spec is refused before any
simulation with a message naming the file, the field and the fix; a spec built in Python reads
back equal from the YAML it writes."""

import numpy as np
import pytest
import spec_support
import yaml

from helpers import contract, study
from helpers.spec import plan, schema
from helpers.spec.schema import SpecError


@pytest.fixture
def toy(scratch_data, monkeypatch):
    return spec_support.register(scratch_data, monkeypatch)


def _mutated(path, mutate):
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def _set(*keys, value):
    def mutate(doc):
        node = doc
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return mutate


def _pop(*keys):
    def mutate(doc):
        node = doc
        for k in keys[:-1]:
            node = node[k]
        node.pop(keys[-1])

    return mutate


def _rename(*keys, to):
    def mutate(doc):
        node = doc
        for k in keys[:-1]:
            node = node[k]
        node[to] = node.pop(keys[-1])

    return mutate


# (case, mutation, field named in the message, words of the fix)
MALFORMED = [
    ("misspelt field", _rename("covariates", "bulky", "prevalence", to="prevalance"),
     "covariates.bulky.prevalance", "did you mean `prevalence`"),
    ("printed number typed in", _set("endpoints", "pfs", "baseline", "uncured", "median", value=5.9),
     "endpoints.pfs.baseline.uncured.median", "enters as {ref: CLAIM-ID/item}"),
    ("unknown covariate kind", _set("covariates", "bulky", "kind", value="binar"),
     "covariates.bulky", "use one of the kinds named"),
    ("missing Weibull shape", _pop("endpoints", "pfs", "baseline", "uncured", "shape"),
     "endpoints.pfs.baseline.uncured.shape", "add it"),
    ("unknown baseline form", _set("endpoints", "pfs", "baseline", "distribution", value="gompertz"),
     "endpoints.pfs.baseline", "exponential, weibull, piecewise or cure"),
    ("effect of an undeclared variable", _set("endpoints", "pfs", "log_hr", "ecog", value={"assumed": "log_hr_arm"}),
     "endpoints.pfs.log_hr.ecog", "correct the name or declare it"),
    ("one effect for a categorical covariate", _set("endpoints", "os", "log_hr", "stage", value={"assumed": "log_hr_age"}),
     "endpoints.os.log_hr.stage", "one log ratio per non-reference level (iv)"),
    ("nested in a later endpoint", _set("endpoints", "cr", "within", value="pfs"),
     "endpoints.cr.within", "binary endpoint listed above cr"),
    ("free parameter not declared", _set("endpoints", "cr", "probability", value={"free": "cr_share"}),
     "calibration.free", "declare each with start, bounds and transform"),
    ("start outside the bounds", _set("calibration", "free", "pfs_cure", "start", value=0.9),
     "calibration.free.pfs_cure", "move the start or widen the bounds"),
    ("shares do not match levels", _set("covariates", "stage", "shares", value=[{"ref": "TOY-01/stage_iv_pct"}] * 3),
     "covariates.stage", "one share per level"),
    ("item names an unknown endpoint", _set("items", "TOY-03/pfs_median", "endpoint", value="pfss"),
     "items.TOY-03/pfs_median", "use one of response, cr, pfs, os"),
    ("cure without censoring", _pop("censoring"), "censoring", "add `censoring:`"),
    ("reason without its class", _set("reasons", value={"TOY-03/pfs_median": "the model is off"}),
     "reasons", "'model: ', 'assumption NAME: ' or 'infeasible: '"),
    ("paper differs from the file name", _set("paper", value="other"), "paper", "paper: toy"),
    # checked against the ledger and the assumptions (helpers.spec.plan)
    ("ref to no ledger item", _set("groups", 0, "n", value={"ref": "TOY-01/arm_c"}),
     "groups[0].n", "enter the printed number in the ledger first"),
    ("ref of the wrong kind", _set("covariates", "bulky", "prevalence", value={"ref": "TOY-03/pfs_median"}),
     "covariates.bulky.prevalence", "refer to a percent / landmark_survival / landmark_event / count item"),
    ("assumption not in the file", _set("censoring", "accrual", value={"assumed": "accrual_years"}),
     "{assumed: accrual_years}", "add it there with value, why, source and range"),
    ("item kind the mapping cannot give", _set("items", "TOY-03/pfs_median", value={"endpoint": "response"}),
     "items.TOY-03/pfs_median", "name a time endpoint"),
    ("HR without its model", _set("items", "TOY-03/pfs_hr_arm", value={"endpoint": "pfs"}),
     "items.TOY-03/pfs_hr_arm", "list the covariates"),
    ("P without its test", _set("items", "TOY-03/pfs_logrank_p", value={"endpoint": "pfs"}),
     "items.TOY-03/pfs_logrank_p", "name the test the paper used"),
    ("control: a valid remapping", _set("items", "TOY-03/os_median", value={"endpoint": "os", "subset": {"group": "a"}}),
     None, None),
]  # fmt: skip


@pytest.mark.parametrize(("case", "mutate", "field", "fix"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_spec_names_file_field_and_fix(toy, case, mutate, field, fix):
    _mutated(toy, mutate)
    if field is None:
        plan.load("toy")
        return
    with pytest.raises(SpecError) as err:
        plan.load("toy")
    msg = str(err.value)
    assert msg.startswith("toy.yaml: ") and field in msg and "Fix:" in msg and fix in msg, msg


def test_invalid_yaml_and_a_missing_file_say_what_to_do(toy):
    toy.write_text("groups: [\n  - {", encoding="utf-8")
    with pytest.raises(SpecError, match="toy.yaml: not valid YAML"):
        plan.load("toy")
    toy.unlink()
    with pytest.raises(SpecError, match="file not found. `make new-paper"):
        schema.read(toy)


def test_a_malformed_spec_stops_the_run_before_any_simulation(toy, monkeypatch):
    from helpers.spec import model

    _mutated(toy, _set("endpoints", "pfs", "baseline", "uncured", "median", value=5.9))
    monkeypatch.setattr(model, "simulate", lambda *a: pytest.fail("simulated despite a malformed spec"))
    with pytest.raises(SpecError, match="endpoints.pfs.baseline.uncured.median"):
        study.run("toy", seed=1, replicates=2, rng=np.random.default_rng(1))


def test_literals_are_only_structural_constants():
    assert schema.BinaryCovariate(kind="binary", prevalence=1, missing=0).missing == 0.0
    with pytest.raises(ValueError, match="not a structural constant"):
        schema.BinaryCovariate(kind="binary", prevalence=0.35)


def test_a_spec_built_in_python_writes_and_reads_back_equal(tmp_path):
    """The Python API a generator uses (issue #16): the same objects as the YAML."""
    ref, assumed, free = schema.ref, schema.assumed, schema.free
    spec = schema.Spec(
        paper="gen",
        groups=[schema.Group(name="all", n=ref("GEN-01/n"))],
        covariates={
            "age": schema.ContinuousCovariate(kind="continuous", distribution="normal", mean=ref("GEN-01/age"),
                                              sd=assumed("age_sd"), unit=10),
            "stage": schema.CategoricalCovariate(kind="categorical", levels=["i", "ii", "iii"],
                                                 shares=[ref("GEN-01/stage_ii_pct"), ref("GEN-01/stage_iii_pct")]),
        },
        correlation=schema.Correlation(factor={"age": assumed("age_loading"), "stage": assumed("stage_loading")}),
        endpoints={"os": schema.TimeEndpoint(kind="time", baseline=schema.Weibull(distribution="weibull",
                                             median=free("os_median"), shape=1), log_hr={"stage": {"iii": assumed("b")}})},
        censoring=schema.Censoring(accrual=assumed("accrual"), followup=assumed("followup")),
        items={"GEN-02/os_median": schema.ItemMap(endpoint="os")},
        calibration=schema.Calibration(targets=["GEN-02/os_median"],
                                       free={"os_median": schema.FreeParameter(start=12, bounds=(1, 120), transform="log")}),
    )  # fmt: skip
    path = schema.write(spec, tmp_path / "gen.yaml")
    assert schema.read(path) == spec
    assert spec.refs() == ["GEN-01/n", "GEN-01/age", "GEN-01/stage_ii_pct", "GEN-01/stage_iii_pct"]
    assert spec.free_names() == ["os_median"] and "age_loading" in spec.assumed_names()


def test_the_toy_spec_declares_its_inputs_and_targets(toy):
    p = plan.load("toy")
    assert p.inputs == ("TOY-01/arm_a", "TOY-01/arm_b", "TOY-01/bulky", "TOY-01/stage_iv_pct", "TOY-01/age_median")
    assert p.targets == ("TOY-02/orr_pct", "TOY-03/pfs_median", "TOY-03/pfs_24m")
    assert contract.is_spec_paper("toy") and not contract.is_spec_paper("descart")
