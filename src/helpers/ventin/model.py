"""The CAR T-tumor kinetic model of Kimmel, Locke & Altrock (Proc R Soc B 2021;288:20210229).

Three populations: normal T cells N, CAR T cells C and tumor cells B (T = N + C):

    dN/dt = -r_N N ln(T / K_N)
    dC/dt = -r_C(T) C ln(T / K_C),   r_C(T) = rho_C + b (T - K_N)^2 / (a T^2 + (T - K_N)^2)
    dB/dt =  r_B B - gamma_B B C / (k_B + C)

Solved in log space (x = ln N, y = ln C, z = ln B), where the right-hand side is smooth and
bounded, so a fixed-step fourth-order Runge-Kutta integrator on numpy arrays solves hundreds of
patients at once; ``solve_reference`` (scipy ``solve_ivp``, LSODA) is the check it is tested
against. Per-patient parameters are arrays broadcast against each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from ..params import ParameterError, check_positive

# Published values (Kimmel et al. 2021, fitted to ZUMA-1); data/assumed/ventin.yaml repeats
# them with their citation so a sensitivity analysis can move them.
PUBLISHED = {
    "K_N": 2.50e11, "K_C": 6.96e10, "r_N": 0.170, "rho_C": 2.51e-2, "a": 0.423, "b": 0.525,
    "gamma_B": 1.15, "k_B": 2.024e9, "N0": 3.00e9, "C0": 1.80e8, "B0": 9.486e10, "r_B": 0.19,
}  # fmt: skip
# Not in the published model: h_B > 0 lets tumor cells saturate killing (kill per tumor cell
# gamma_B C / (k_B + C + h_B B)), so the effector-to-target ratio matters. 0 = published model.
EXTENSIONS = {"h_B": 0.0}
CURE_CELLS = 100.0  # tumor below ~100 cells counts as eradicated (Kimmel et al. 2021)
PROGRESSION_FACTOR = 1.2  # progression: tumor back to 120% of its baseline (Kimmel et al. 2021)
DEAD_LOG = -50.0  # log tumor size written once a tumor is eradicated (it stays eradicated)


@dataclass(frozen=True)
class Trajectories:
    """Solutions on the output grid: arrays of shape (patients, times), cells."""

    t: np.ndarray
    N: np.ndarray
    C: np.ndarray
    B: np.ndarray
    cured_day: np.ndarray  # day the tumor fell below CURE_CELLS (inf if never)


def _params(p: dict | None) -> dict[str, np.ndarray]:
    merged = {**PUBLISHED, **EXTENSIONS, **(p or {})}
    allowed = {*PUBLISHED, *EXTENSIONS}
    unknown = sorted(set(merged) - allowed)
    if unknown:
        raise ParameterError(f"unknown kinetic parameter(s) {unknown}; allowed: {sorted(allowed)}")
    out = {k: np.asarray(v, dtype=float) for k, v in merged.items()}
    for k, v in out.items():
        if not np.all(np.isfinite(v)) or np.any(v < 0) or (k not in EXTENSIONS and np.any(v == 0)):
            raise ParameterError(f"kinetic parameter {k} must be positive and finite")
    return out


def rhs_log(u: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    """d/dt of (ln N, ln C, ln B); ``u`` has shape (3, patients)."""
    N, C = np.exp(u[0]), np.exp(u[1])
    T = N + C
    log_T = np.log(T)
    d2 = (T - p["K_N"]) ** 2
    r_C = p["rho_C"] + p["b"] * d2 / (p["a"] * T**2 + d2)
    out = np.empty_like(u)
    out[0] = -p["r_N"] * (log_T - np.log(p["K_N"]))
    out[1] = -r_C * (log_T - np.log(p["K_C"]))
    saturation = p["k_B"] + C
    if np.any(p["h_B"] > 0):  # the sensitivity extension; skipped for the published model
        saturation = saturation + p["h_B"] * np.exp(u[2])
    out[2] = p["r_B"] - p["gamma_B"] * C / saturation
    return out


def solve(params: dict | None = None, *, days: float = 365.0, dt: float = 0.25,
          record_every: float = 1.0) -> Trajectories:  # fmt: skip
    """Fixed-step RK4 in log space for every patient at once (parameters broadcast).

    Eradication is absorbing: once ln B < ln(CURE_CELLS) the tumor is set to zero.
    """
    check_positive("days", days, upper=3650)
    check_positive("dt", dt, upper=1.0)
    p = _params(params)
    n = int(np.broadcast(*p.values()).size)
    p = {k: np.broadcast_to(v, (n,)) for k, v in p.items()}
    u = np.stack([np.log(p["N0"]), np.log(p["C0"]), np.log(p["B0"])]).astype(float)
    steps = int(round(days / dt))
    every = max(1, int(round(record_every / dt)))
    n_out = steps // every + 1
    out = np.empty((3, n, n_out))
    out[:, :, 0] = u
    cured_day = np.full(n, np.inf)
    log_cure = np.log(CURE_CELLS)
    for s in range(1, steps + 1):
        k1 = rhs_log(u, p)
        k2 = rhs_log(u + 0.5 * dt * k1, p)
        k3 = rhs_log(u + 0.5 * dt * k2, p)
        k4 = rhs_log(u + dt * k3, p)
        u = u + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        newly = (u[2] < log_cure) & ~np.isfinite(cured_day)
        cured_day[newly] = s * dt
        u[2] = np.where(np.isfinite(cured_day), DEAD_LOG, u[2])
        if s % every == 0:
            out[:, :, s // every] = u
    t = np.arange(n_out) * every * dt
    B = np.exp(out[2])
    B[:, :][np.isfinite(cured_day)[:, None] & (t[None, :] >= cured_day[:, None])] = 0.0
    return Trajectories(t=t, N=np.exp(out[0]), C=np.exp(out[1]), B=B, cured_day=cured_day)


def solve_reference(params: dict | None = None, *, days: float = 365.0,
                    t_eval: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """One patient (scalar parameters) with scipy LSODA at tight tolerances; returns (3, t) cells."""
    p = _params(params)
    if any(v.size != 1 for v in p.values()):
        raise ParameterError("solve_reference takes scalar parameters (one patient)")
    p = {k: float(v) for k, v in p.items()}
    t_eval = np.arange(0.0, days + 1e-9, 1.0) if t_eval is None else t_eval
    u0 = np.log([p["N0"], p["C0"], p["B0"]])
    sol = solve_ivp(lambda _t, u: rhs_log(u[:, None], p)[:, 0], (0.0, days), u0, method="LSODA",
                    t_eval=t_eval, rtol=1e-10, atol=1e-10)  # fmt: skip
    return np.exp(sol.y)


def outcomes(tr: Trajectories, *, horizon_days: float = 180.0) -> dict[str, np.ndarray]:
    """Per patient: peak CAR T (cells) and its day, progression day, durable response.

    Progression: first day the tumor is at or above 120% of baseline (inf if never within the
    solved window). Durable response: tumor eradicated, or no progression by ``horizon_days``.
    """
    B0 = tr.B[:, :1]
    prog = tr.B >= PROGRESSION_FACTOR * B0
    has = prog.any(axis=1)
    prog_day = np.where(has, tr.t[np.argmax(prog, axis=1)], np.inf)
    peak_idx = np.argmax(tr.C, axis=1)
    return {
        "peak_car_t": tr.C.max(axis=1),
        "peak_day": tr.t[peak_idx],
        "progression_day": prog_day,
        "cured": np.isfinite(tr.cured_day),
        "durable": np.isfinite(tr.cured_day) | (prog_day > horizon_days),
    }
