"""Entropy production of a Lindblad model coupled to thermal baths (exact, deterministic).

Conventions (hbar = k_B = 1).  Bath b has temperature T_b (``Lindblad(..., temperatures=...)``)
and dissipator D_b, the sum of the dissipators of its channels.  Its heat current is
J_b = Tr[H D_b(rho)], positive when energy flows from the bath into the system
(`qtraj.heat_currents`).  The entropy the baths receive per unit time is the entropy flow
-sum_b J_b / T_b, and the entropy production rate (Spohn 1978) is

    Sigma_dot = dS/dt - sum_b J_b / T_b,    S = -Tr rho ln rho,

equivalently Sigma_dot = -sum_b Tr[D_b(rho) (ln rho - ln pi_b)] with pi_b the Gibbs state of
H at T_b (the Hamiltonian part does not change S).  A bath at T_b = inf exchanges energy
without entropy.  Integrated from rho(t0) to rho(t),

    Sigma(t) = S(rho(t)) - S(rho(t0)) - sum_b Q_b(t) / T_b,   Q_b(t) = int J_b dt,

and with a single bath (and a time-independent H, so that the energy change equals Q) this
is D(rho(t0) || pi) - D(rho(t) || pi), D the relative entropy.

Sigma_dot >= 0 (Spohn's inequality) when each D_b leaves pi_b invariant, e.g. when the jump
operators are eigenoperators of H and the baths satisfy local detailed balance
(`Lindblad.check_detailed_balance`).  Both quantities here require local detailed balance
(a clear `qtraj.DetailedBalanceError` otherwise): it is what makes J_b / T_b the entropy the
bath receives.  "Local" master equations, whose jump operators are not eigenoperators of H
(the thermal transistor's emitter and collector), pass that check but can give
Sigma_dot < 0 here: a known inconsistency of such models, not a numerical error.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .deterministic import DENSE_LIMIT
from .lindblad import Lindblad, unvec, vec
from .measures import von_neumann_entropy
from .validation import as_density_matrix, as_state, as_times

__all__ = ["entropy_production_rate", "entropy_production", "integrated_heat"]

#: eigenvalues of rho below this are zero for dS/dt (a state leaving a zero eigenvalue has
#: dS/dt = +inf)
_EIG_TOL = 1e-12


def _thermal_model(model) -> Lindblad:
    if not isinstance(model, Lindblad):
        raise TypeError(f"model must be a qtraj.Lindblad, got {type(model).__name__}")
    model.check_detailed_balance()
    return model


def _entropy_rate(rho: np.ndarray, drho: np.ndarray) -> float:
    """dS/dt = -Tr[drho ln rho] (+inf when rho leaves a zero eigenvalue)."""
    p, U = np.linalg.eigh(0.5 * (rho + rho.conj().T))
    flow = np.real(np.einsum("ji,jk,ki->i", U.conj(), drho, U))   # <i|drho|i>
    zero = p <= _EIG_TOL
    scale = max(float(np.max(np.abs(drho))), 1e-300)
    if np.any(flow[zero] > _EIG_TOL * scale):
        return float("inf")
    return float(-np.sum(flow[~zero] * np.log(p[~zero])))


def entropy_production_rate(model: Lindblad, rho) -> float:
    """Spohn's entropy production rate Sigma_dot = dS/dt - sum_b J_b / T_b of `model` at `rho`.

    dS/dt = -Tr[L(rho) ln rho] is the rate of change of the von Neumann entropy and
    J_b = Tr[H D_b(rho)] the heat current from bath b into the system (`qtraj.heat_currents`).
    In a steady state dS/dt = 0 and Sigma_dot is the entropy flow -sum_b J_b / T_b.

    Parameters
    ----------
    model : Lindblad
        With a temperature for every bath and local detailed balance (see
        `Lindblad.check_detailed_balance`).
    rho : (d, d) array_like
        Density matrix.

    Returns
    -------
    float
        Sigma_dot in nats per unit time; +inf if `rho` has a zero eigenvalue that the dynamics
        populates (the entropy then rises with infinite slope).

    Raises
    ------
    DetailedBalanceError
        If a bath has no temperature or fails local detailed balance.
    ValueError
        If `rho` is not a density matrix of the model's dimension.
    TypeError
        If `model` is not a `Lindblad`.

    Examples
    --------
    >>> import numpy as np
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(0.5 * op.sigma_z(),
    ...                 [qt.Channel(op.sigma_minus(), 2.0, "hot"),
    ...                  qt.Channel(op.sigma_plus(), 1.0, "hot"),
    ...                  qt.Channel(op.sigma_minus(), 1.0, "cold"),
    ...                  qt.Channel(op.sigma_plus(), 0.1, "cold")],
    ...                 temperatures={"hot": 1 / np.log(2), "cold": 1 / np.log(10)})
    >>> rho = qt.steady_state(L)
    >>> s = qt.entropy_production_rate(L, rho)
    >>> J = qt.heat_currents(L, rho)
    >>> bool(s > 0), bool(np.isclose(s, -J["hot"] * np.log(2) - J["cold"] * np.log(10)))
    (True, True)
    """
    model = _thermal_model(model)
    rho = as_density_matrix(rho, "rho", model.dim)
    flow = 0.0
    for b in model.baths:
        T = model.temperatures[b]
        if np.isfinite(T):
            flow += float(np.trace(model.H @ model.dissipator_of(b, rho)).real) / T
    return _entropy_rate(rho, model.rhs(rho)) - flow


def _states_and_integrals(model: Lindblad, rho0: np.ndarray, times: np.ndarray):
    """rho(t_i) and int_{t_0}^{t_i} rho(t) dt, exactly: one exponential of the augmented
    generator [[L, 0], [1, 0]] per distinct step (dense, or expm_multiply when large)."""
    d = model.dim
    n = d * d
    z = np.concatenate([vec(rho0), np.zeros(n, dtype=complex)])
    states = np.empty((len(times), d, d), dtype=complex)
    integrals = np.zeros((len(times), d, d), dtype=complex)
    states[0] = rho0
    dense = n <= DENSE_LIMIT
    if dense:
        A = np.zeros((2 * n, 2 * n), dtype=complex)
        A[:n, :n] = model.liouvillian()
        A[n:, :n] = np.eye(n)
        cache: dict[float, np.ndarray] = {}
    else:
        zero = sp.csr_matrix((n, n), dtype=complex)
        A = sp.bmat([[model.liouvillian(sparse=True), zero],
                     [sp.identity(n, dtype=complex, format="csr"), zero]], format="csc")
    for i in range(1, len(times)):
        dt = float(times[i] - times[i - 1])
        if dt > 0:
            if dense:
                key = round(dt, 15)
                if key not in cache:
                    cache[key] = sla.expm(A * dt)
                z = cache[key] @ z
            else:
                z = spla.expm_multiply(A * dt, z)
        states[i] = unvec(z[:n], d)
        integrals[i] = unvec(z[n:], d)
    return states, integrals


def integrated_heat(model: Lindblad, rho0, times) -> dict[str, np.ndarray]:
    """Heat from each bath into the system from times[0] to each time, Q_b(t) = int J_b dt.

    Exact for a time-independent generator: Q_b(t) = Tr[H D_b(int rho dt)], with the time
    integral of rho from one matrix exponential of an augmented generator (no quadrature).
    Needs no temperatures.

    Parameters
    ----------
    model : Lindblad
        The model (H is the energy whose flow is counted).
    rho0 : (d,) or (d, d) array_like
        Ket or density matrix at times[0].
    times : 1-d array_like
        Non-decreasing times.

    Returns
    -------
    dict
        {bath: array of shape (len(times),)}, baths in the order of ``model.baths``; each
        starts at 0.

    Raises
    ------
    ValueError
        For a bad `rho0` or `times`.
    TypeError
        If `model` is not a `Lindblad`.

    Examples
    --------
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 1.0, "cold")])
    >>> Q = qt.integrated_heat(L, op.basis(2, 1), [0.0, 50.0])
    >>> round(float(Q["cold"][-1]), 12)       # the excited qubit gives its energy 1 away
    -1.0
    """
    if not isinstance(model, Lindblad):
        raise TypeError(f"model must be a qtraj.Lindblad, got {type(model).__name__}")
    rho0 = as_state(rho0, model.dim, "rho0")
    times = as_times(times)
    _, integrals = _states_and_integrals(model, rho0, times)
    return {b: np.array([np.trace(model.H @ model.dissipator_of(b, I)).real for I in integrals])
            for b in model.baths}


def entropy_production(model: Lindblad, rho0, times, full: bool = False):
    """Entropy produced from times[0] to each time along the exact evolution (`qtraj.mesolve`).

    Sigma(t) = S(rho(t)) - S(rho(t_0)) - sum_b Q_b(t) / T_b, the time integral of
    `entropy_production_rate`, computed without quadrature: the entropy change from the
    states, the heats Q_b from `integrated_heat`.  For a single bath this equals
    D(rho(t_0) || pi) - D(rho(t) || pi), pi the Gibbs state of H at the bath's temperature.

    Parameters
    ----------
    model : Lindblad
        With a temperature for every bath and local detailed balance.
    rho0 : (d,) or (d, d) array_like
        Ket or density matrix at times[0].
    times : 1-d array_like
        Non-decreasing times.
    full : bool, default False
        Also return the parts of the balance.

    Returns
    -------
    numpy.ndarray or dict
        Sigma at each time, shape (len(times),), starting at 0.  With ``full=True`` a dict:
        "entropy_production" (that array), "entropy_change" S(rho(t)) - S(rho(t_0)),
        "entropy_flow" -sum_b Q_b / T_b (entropy delivered to the baths), "heat"
        {bath: Q_b(t)} and "states" (the density matrices at `times`).

    Raises
    ------
    DetailedBalanceError
        If a bath has no temperature or fails local detailed balance.
    ValueError
        For a bad `rho0` or `times`.
    TypeError
        If `model` is not a `Lindblad`.

    Examples
    --------
    >>> import numpy as np
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> T = 0.5
    >>> L = qt.Lindblad(0.5 * op.sigma_z(),
    ...                 [qt.Channel(op.sigma_minus(), 1.0, "b"),
    ...                  qt.Channel(op.sigma_plus(), np.exp(-1 / T), "b")],
    ...                 temperatures={"b": T})
    >>> sigma = qt.entropy_production(L, op.basis(2, 1), [0.0, 1.0, 100.0])
    >>> bool(np.all(np.diff(sigma) > 0))
    True
    """
    model = _thermal_model(model)
    rho0 = as_state(rho0, model.dim, "rho0")
    times = as_times(times)
    states, integrals = _states_and_integrals(model, rho0, times)
    S = np.array([von_neumann_entropy(_physical(r)) for r in states])
    heat = {b: np.array([np.trace(model.H @ model.dissipator_of(b, I)).real for I in integrals])
            for b in model.baths}
    flow = np.zeros(len(times))
    for b, Q in heat.items():
        T = model.temperatures[b]
        if np.isfinite(T):
            flow -= Q / T
    dS = S - S[0]
    sigma = dS + flow
    if not full:
        return sigma
    return {"entropy_production": sigma, "entropy_change": dS, "entropy_flow": flow,
            "heat": heat, "states": states}


def _physical(rho: np.ndarray) -> np.ndarray:
    """rho made exactly Hermitian with unit trace (propagation rounding)."""
    rho = 0.5 * (rho + rho.conj().T)
    return rho / np.trace(rho).real
