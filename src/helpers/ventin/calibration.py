"""Calibration of the Ventin virtual cohort to external ZUMA-1 numbers (never to the review).

Targets (all external, cited in data/assumed/ventin.yaml):
- median PFS 5.9 months -> ``expansion_shift`` (population level of CAR T expansion);
- blood CAR T median at day 7, 27.5 cells/uL -> ``blood_fraction`` (cells in blood / body);
- grade >= 3 CRS 11% and neurologic events 31% -> ``crs_intercept``, ``icans_intercept``;
- ``log_peak_ref_mean``/``sd`` standardise log peak CAR T in the toxicity link.
Everything else (CAR T counts at days 14, 28, 90, Dean et al. HR, all VEN claims) is held-out.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from . import cohort

SETTINGS = {"seed": 20231109, "patients": 4000, "pfs_target_days": 5.9 * 30.4375, "bracket": [-1.0, 1.0]}
TARGETS = [
    "external_zuma1_median_pfs_months", "external_zuma1_car_t_median[day 7]",
    "external_zuma1_severe_crs", "external_zuma1_severe_icans",
]  # fmt: skip


def calibrate() -> dict:
    s = cohort.settings()
    noise = cohort.draw_noise(np.random.default_rng(SETTINGS["seed"]), SETTINGS["patients"])
    t_pfs = SETTINGS["pfs_target_days"]

    def progressed_by_target(shift: float) -> float:
        df = cohort.realise(noise, {**s, "expansion_shift": shift}, days=s["followup_days"])
        return float(np.mean(df.progression_day <= t_pfs)) - 0.5

    shift = brentq(progressed_by_target, *SETTINGS["bracket"], xtol=1e-3)
    s["expansion_shift"] = shift
    df = cohort.realise(noise, s, days=s["followup_days"])
    log_peak = np.log(df.peak_car_t.to_numpy())
    fitted = {"expansion_shift": float(shift), "log_peak_ref_mean": float(log_peak.mean()),
              "log_peak_ref_sd": float(log_peak.std())}  # fmt: skip
    day7 = float(np.median(df.car_t_d7))
    target7 = s["external_zuma1_car_t_median"][0]
    fitted["blood_fraction"] = target7 * s["blood_volume_ul"] / day7
    z_peak = (log_peak - fitted["log_peak_ref_mean"]) / fitted["log_peak_ref_sd"]
    targets = [{"claim_id": "external", "item": "zuma1_median_pfs_months", "reported": s["external_zuma1_median_pfs_months"],
                "fitted": float(np.median(np.where(df.pfs_event, df.pfs_days, np.inf))) / 30.4375,
                "weight": 1.0}]  # fmt: skip
    targets[0]["residual"] = targets[0]["fitted"] - targets[0]["reported"]
    targets.append({"claim_id": "external", "item": "zuma1_car_t_day7_median", "reported": target7,
                    "fitted": day7 * fitted["blood_fraction"] / s["blood_volume_ul"], "weight": 1.0,
                    "residual": 0.0})  # fmt: skip
    for tox in ("crs", "icans"):
        rate = s[f"external_zuma1_severe_{tox}"]
        lin = np.log(s[f"{tox}_or_per_sd_burden"]) * df.log_burden.to_numpy() + np.log(
            s[f"{tox}_or_per_sd_peak"]) * z_peak  # fmt: skip
        c = brentq(lambda c, lin=lin, rate=rate: float(np.mean(expit(c + lin))) - rate, -10, 10, xtol=1e-8)
        fitted[f"{tox}_intercept"] = float(c)
        targets.append({"claim_id": "external", "item": f"zuma1_severe_{tox}", "reported": rate,
                        "fitted": float(np.mean(expit(c + lin))), "weight": 1.0,
                        "residual": float(np.mean(expit(c + lin)) - rate)})  # fmt: skip
    objective = float(sum(t["residual"] ** 2 for t in targets))
    return {"params": fitted, "targets": targets, "objective": objective, "settings": SETTINGS}
