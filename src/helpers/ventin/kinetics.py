"""The CAR T-tumor kinetic model of Kimmel, Locke & Altrock (Proc R Soc B 2021;288:20210229).

Three populations: normal T cells N, CAR T cells C and tumor cells B (T = N + C):

    dN/dt = -r_N N ln(T / K_N)
    dC/dt = -r_C(T) C ln(T / K_C),   r_C(T) = rho_C + b (T - K_N)^2 / (a T^2 + (T - K_N)^2)
    dB/dt =  r_B B - gamma_B B C / (k_B + C + h_B B)

(h_B = 0 is the published kill term; h_B > 0 lets tumor cells saturate killing, an extension.)

Solved in log space (x = ln N, y = ln C, z = ln B), where the right-hand side is smooth and
bounded. Two solvers give the same per-patient summaries (``summary``):

- ``solve``: fixed-step fourth-order Runge-Kutta on numpy arrays, every patient at once (any
  parameter may vary by patient, any h_B); ``solve_reference`` (scipy LSODA) is its check.
- the **family table** (``summary`` picks it when it applies): under the published kill term N and
  C do not depend on B, and a virtual patient differs from another only in K_C (expansion), r_B
  (growth) and B0 (burden). So ln C(t) and the kill integral I(t) = int gamma_B C / (k_B + C) are
  solved once, by the same RK4, on a fine grid of ln K_C, and each patient's are interpolated
  (cubic, in ln K_C); ln B(t) = ln B0 + r_B t - I(t) is then exact. This is what makes a thousand
  ZUMA-1-sized replicate cohorts cheap: solving each patient's ODE costs ~0.5 ms, the table
  lookup ~5 us (tests check the table against RK4 and LSODA).

Cure and progression are read on the daily grid: eradicated the first day ln B < ln(CURE_CELLS)
(absorbing), progressed the first day before that with B >= PROGRESSION_FACTOR x B0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse
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
PER_PATIENT = ("K_C", "r_B", "B0")  # what the family table lets vary between patients
TABLE_DT = 0.25  # days: RK4 step of the family table
TABLE_STEP = 0.01  # spacing of the ln K_C grid; with TABLE_DT: < 1e-4 log cells from LSODA (measured 1e-5, tested)
TABLE_HALF_WIDTH = 3.0  # the grid spans ln K_C +/- 3 around the published K_C (x 0.05 to x 20)


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
        if k in EXTENSIONS:
            if not np.all(np.isfinite(v)) or np.any(v < 0):
                raise ParameterError(f"kinetic parameter {k} must be finite and >= 0 (0 = the published kill term)")
        elif not np.all(np.isfinite(v)) or np.any(v <= 0):
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
        if s % every == 0:
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


def outcomes(tr: Trajectories) -> dict[str, np.ndarray]:
    """Per patient, from trajectories: peak CAR T (cells) and its day, progression day, cure.

    Progression: first recorded day the tumor is at or above 120% of baseline (inf if never
    within the solved window).
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
    }


# ---- the family table: published kill term, patients differing in K_C, r_B and B0 ----


def _on_table_grid(k_c: np.ndarray) -> bool:
    """Every K_C inside the family table's ln K_C grid (with the cubic's two-point margin)."""
    offset = np.abs(np.log(k_c) - np.log(PUBLISHED["K_C"]))
    return bool(np.all(offset <= TABLE_HALF_WIDTH - 3 * TABLE_STEP))


def _table_applies(p: dict[str, np.ndarray]) -> bool:
    return bool(np.all(p["h_B"] == 0)) and all(v.size == 1 for k, v in p.items() if k not in PER_PATIENT)


@lru_cache(maxsize=8)
def _family(shared: tuple[tuple[str, float], ...], days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid of ln K_C, ln C on the daily grid (grid, day), kill integral I (grid, day))."""
    p = dict(shared)
    grid = np.log(p["K_C"]) + np.arange(-TABLE_HALF_WIDTH, TABLE_HALF_WIDTH + TABLE_STEP / 2, TABLE_STEP)
    n = grid.size
    log_kn = np.log(p["K_N"])
    u = np.stack([np.full(n, np.log(p["N0"])), np.full(n, np.log(p["C0"])), np.zeros(n)])

    def rhs(v: np.ndarray) -> np.ndarray:
        N, C = np.exp(v[0]), np.exp(v[1])
        T = N + C
        log_T = np.log(T)
        d2 = (T - p["K_N"]) ** 2
        out = np.empty_like(v)
        out[0] = -p["r_N"] * (log_T - log_kn)
        out[1] = -(p["rho_C"] + p["b"] * d2 / (p["a"] * T * T + d2)) * (log_T - grid)
        out[2] = p["gamma_B"] * C / (p["k_B"] + C)
        return out

    per_day = int(round(1.0 / TABLE_DT))
    log_c = np.empty((n, days + 1))
    kill = np.empty((n, days + 1))
    log_c[:, 0], kill[:, 0] = u[1], u[2]
    dt = TABLE_DT
    for s in range(1, days * per_day + 1):
        k1 = rhs(u)
        k2 = rhs(u + 0.5 * dt * k1)
        k3 = rhs(u + 0.5 * dt * k2)
        k4 = rhs(u + dt * k3)
        u = u + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        if s % per_day == 0:
            log_c[:, s // per_day], kill[:, s // per_day] = u[1], u[2]
    return grid, log_c, kill


def _cubic(grid: np.ndarray, table: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Rows of ``table`` (grid, day) interpolated at ``x`` (patients) by 4-point Lagrange.

    The weights form a sparse (patients, grid) matrix with four entries a row, so the lookup is
    one sparse product (ten times faster than gathering rows).
    """
    h = grid[1] - grid[0]
    pos = (x - grid[0]) / h
    j = np.clip(np.floor(pos).astype(int), 1, grid.size - 3)
    t = pos - j
    w = np.stack([-t * (t - 1) * (t - 2) / 6, (t + 1) * (t - 1) * (t - 2) / 2,
                  -(t + 1) * t * (t - 2) / 2, (t + 1) * t * (t - 1) / 6], axis=1)  # fmt: skip
    cols = np.stack([j - 1, j, j + 1, j + 2], axis=1)
    weights = sparse.csr_matrix((w.ravel(), cols.ravel(), np.arange(0, 4 * x.size + 1, 4)),
                                shape=(x.size, grid.size))  # fmt: skip
    return np.asarray(weights @ table)


def summary(params: dict | None = None, *, days: int = 365, car_t_days: tuple[int, ...] = (),
            method: str = "auto") -> dict[str, np.ndarray]:  # fmt: skip
    """Per-patient summaries: peak CAR T and its day, progression day, cure (and its day), and
    CAR T cells on each of ``car_t_days`` (column ``car_t_d<day>``).

    ``method``: "table" (published kill term; K_C, r_B, B0 may vary by patient), "rk4" (any
    parameters, 1-day steps) or "auto" (the table where it applies, else RK4).
    """
    if not float(days).is_integer():
        raise ParameterError(f"days={days!r}: whole days only (outcomes are read on the daily grid)")
    days = int(check_positive("days", days, upper=3650))
    p = _params(params)
    # auto: the table where it applies and every patient's K_C lies on its grid, else RK4
    use_table = method == "table" or (method == "auto" and _table_applies(p) and _on_table_grid(p["K_C"]))
    if method not in ("auto", "table", "rk4"):
        raise ParameterError(f"method={method!r}: one of auto, table, rk4")
    if use_table and not _table_applies(p):
        raise ParameterError("the family table needs h_B = 0 and only K_C, r_B, B0 varying by patient")
    n = int(np.broadcast(*p.values()).size)
    if use_table:
        shared = tuple(sorted((k, float(v)) for k, v in p.items() if k not in PER_PATIENT and k in PUBLISHED))
        grid, log_c_tab, kill_tab = _family((*shared, ("K_C", PUBLISHED["K_C"])), days)
        x = np.broadcast_to(np.log(p["K_C"]), (n,))
        inside = (x >= grid[1]) & (x <= grid[-3])
        if not inside.all():
            raise ParameterError(f"K_C outside the family table (x{np.exp(-TABLE_HALF_WIDTH):.2g} to "
                                 f"x{np.exp(TABLE_HALF_WIDTH):.2g} the published value): use method='rk4'")  # fmt: skip
        # CAR T peak within the first weeks: interpolate ln C only up to the latest peak of the
        # table's rows (plus a margin), and fall back to every day for a patient peaking at the edge
        window = _peak_window(log_c_tab)
        log_c = _cubic(grid, log_c_tab[:, :window], x)
        edge = np.argmax(log_c, axis=1) == window - 1
        if window < days + 1 and edge.any():
            full = np.full((n, days + 1), -np.inf)
            full[:, :window] = log_c
            full[edge] = _cubic(grid, log_c_tab, x[edge])
            log_c = full
        at_days = {d: _cubic(grid, log_c_tab[:, [d]], x)[:, 0] for d in car_t_days}
        t = np.arange(days + 1, dtype=float)
        log_b0 = np.broadcast_to(np.log(p["B0"]), (n,))[:, None]
        z = log_b0 + np.broadcast_to(p["r_B"], (n,))[:, None] * t - _cubic(grid, kill_tab, x)
        z[:, 0] = log_b0[:, 0]
    else:
        tr = solve({k: v for k, v in p.items()}, days=float(days), dt=1.0)
        t = tr.t
        log_c = np.log(tr.C)
        at_days = {d: log_c[:, int(np.searchsorted(t, d))] for d in car_t_days}
        with np.errstate(divide="ignore"):
            z = np.log(tr.B)
        z[:, 0] = np.log(np.broadcast_to(p["B0"], (n,)))
    return _read(t, log_c, z, at_days)


def _peak_window(log_c_tab: np.ndarray) -> int:
    """Days of ln C interpolated for the peak: up to the latest peak of the table's rows, plus 3."""
    return min(log_c_tab.shape[1], int(np.argmax(log_c_tab, axis=1).max()) + 3)


def _first(cond: np.ndarray) -> np.ndarray:
    """Index of the first True per row (the row length if none)."""
    idx = np.argmax(cond, axis=1)
    return np.where(cond[np.arange(cond.shape[0]), idx], idx, cond.shape[1])


def _read(t: np.ndarray, log_c: np.ndarray, z: np.ndarray, at_days: dict[int, np.ndarray]) -> dict[str, np.ndarray]:
    """Peak, cure (first day below CURE_CELLS, absorbing) and progression (first day before cure at
    or above PROGRESSION_FACTOR x B0) from ln C and ln B on the daily grid ``t``."""
    cured_idx = _first(z < np.log(CURE_CELLS))
    prog_idx = _first(z >= z[:, :1] + np.log(PROGRESSION_FACTOR))
    progressed = prog_idx < cured_idx
    cured = cured_idx < t.size
    peak_idx = np.argmax(log_c, axis=1)
    out = {
        "peak_car_t": np.exp(log_c[np.arange(log_c.shape[0]), peak_idx]),
        "peak_day": t[peak_idx],
        "progression_day": np.where(progressed, t[np.minimum(prog_idx, t.size - 1)], np.inf),
        "cured": cured,
        "cured_day": np.where(cured, t[np.minimum(cured_idx, t.size - 1)], np.inf),
    }
    for d, v in at_days.items():
        out[f"car_t_d{d}"] = np.exp(v)
    return out
