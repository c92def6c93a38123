"""environment.yml and requirements.lock cannot drift from requirements.in."""

from helpers import environment, paths


def _read(name):
    return (paths.PROJ_ROOT / name).read_text(encoding="utf-8")


def test_environment_yml_is_generated_from_requirements_in():
    assert _read("environment.yml") == environment.render_environment_yml(_read("requirements.in")), (
        "environment.yml is stale: run `make lock` (or `python -m helpers.environment`)"
    )


def test_lock_pins_every_top_level_package_at_the_same_version():
    wanted, locked = environment.pins(_read("requirements.in")), environment.pins(_read("requirements.lock"))
    drift = {k: (v, locked.get(k)) for k, v in wanted.items() if locked.get(k) != v}
    assert not drift, f"requirements.lock disagrees with requirements.in (wanted, locked): {drift}; run `make lock`"


def test_lock_is_exact_and_hashed():
    lines = [ln for ln in _read("requirements.lock").splitlines() if ln and not ln.startswith((" ", "#"))]
    assert lines and all("==" in ln for ln in lines), "every locked requirement is pinned with =="
    assert _read("requirements.lock").count("--hash=sha256:") >= len(lines)


def test_lifelines_pandas_pair_is_compatible():
    locked = environment.pins(_read("requirements.lock"))
    assert int(locked["pandas"].split(".")[0]) < 3  # lifelines 0.30.3 requires pandas < 3
