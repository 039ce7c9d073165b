"""Collective thermal bath of Çakmak, Manatuly & Müstecaplıoğlu (2017) (qtraj.models.collective)
against independent references: the double-sum master equation (1)-(3) built here element by
element, exact matrix exponentials, Eq. (5), and the Dicke-ladder long-time states."""

from functools import reduce
from math import comb

import numpy as np
import pytest
import scipy.linalg as sla

import qtraj as qt
from qtraj.models import collective
from helpers import random_state

SM = np.array([[0, 1], [0, 0]], dtype=complex)   # |g><e|, index 0 = ground


# --------------------------------------------------------------------------- references
def site_ops(n):
    """sigma_j^- and sigma_j^+ on n atoms, atom 1 leftmost, built with plain np.kron."""
    sm = [reduce(np.kron, [SM if k == j else np.eye(2) for k in range(n)]) for j in range(n)]
    return sm, [s.conj().T for s in sm]


def sandwich(A, B):
    """Superoperator of rho -> A rho B in column stacking: vec(A rho B) = (B^T kron A) vec(rho)."""
    return np.kron(B.T, A)


def double_sum_liouvillian(gamma, f, nbar):
    """Eqs. (1)-(3) term by term: H_d = sum_{i!=j} f_ij s_i^+ s_j^-, D_- and D_+ as double sums."""
    n = len(gamma)
    sm, sp = site_ops(n)
    eye = np.eye(2 ** n)
    H = sum(f[i][j] * sp[i] @ sm[j] for i in range(n) for j in range(n) if i != j)
    L = -1j * (sandwich(H, eye) - sandwich(eye, H))
    for i in range(n):
        for j in range(n):
            for rate, a, b in ((gamma[i][j] * (nbar + 1), sm[j], sp[i]),
                               (gamma[i][j] * nbar, sp[j], sm[i])):
                ba = b @ a
                L = L + rate * (sandwich(a, b) - 0.5 * sandwich(ba, eye) - 0.5 * sandwich(eye, ba))
    return L


def double_sum_rhs(gamma, f, nbar, rho):
    """The same right-hand side applied directly to a matrix (checks the reference's vec convention)."""
    n = len(gamma)
    sm, sp = site_ops(n)
    H = sum(f[i][j] * sp[i] @ sm[j] for i in range(n) for j in range(n) if i != j)
    out = -1j * (H @ rho - rho @ H)
    for i in range(n):
        for j in range(n):
            for rate, a, b in ((gamma[i][j] * (nbar + 1), sm[j], sp[i]),
                               (gamma[i][j] * nbar, sp[j], sm[i])):
                out += rate * (a @ rho @ b - 0.5 * (b @ a @ rho + rho @ b @ a))
    return out


def evolve(L, rho0, t):
    """exp(L t) rho0 with the dense superoperator (column stacking)."""
    d = rho0.shape[0]
    v = sla.expm(L.liouvillian() * t) @ rho0.reshape(-1, order="F")
    return v.reshape(d, d, order="F")


def l1(rho):
    return float(np.sum(np.abs(rho)) - np.sum(np.abs(np.diag(rho))))


# --------------------------------------------------------------------------- the model
def test_reference_liouvillian_matches_direct_rhs():
    rng = np.random.default_rng(0)
    gamma = np.array([[1.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 1.0]])
    f = np.array([[0, 0.7, -1.1], [0.7, 0, 0.4], [-1.1, 0.4, 0]])
    rho = random_state(8, rng)
    v = double_sum_liouvillian(gamma, f, 0.6) @ rho.reshape(-1, order="F")
    assert np.allclose(v.reshape(8, 8, order="F"), double_sum_rhs(gamma, f, 0.6, rho), atol=1e-12)


@pytest.mark.parametrize("n_atoms", [2, 3])
@pytest.mark.parametrize("nbar", [0.0, 0.7, 10.0])
def test_collective_channels_are_J_minus_and_J_plus(n_atoms, nbar):
    gamma0, f0 = 1.3, 0.4
    L = collective.lindblad(n_atoms, nbar, gamma0, f0)
    sm, sp = site_ops(n_atoms)
    Jm, Jp = sum(sm), sum(sp)
    emit = [c for c in L.channels if c.name.startswith("emit")]
    absorb = [c for c in L.channels if c.name.startswith("absorb")]
    assert len(emit) == len(absorb) == 1
    assert all(c.bath == "thermal" for c in L.channels)
    for ch, J, rate in ((emit[0], Jm, gamma0 * (nbar + 1)), (absorb[0], Jp, gamma0 * nbar)):
        Lk = ch.jump_operator
        c = np.vdot(J, Lk) / np.vdot(J, J)            # Lk = c J with |c|^2 = rate
        assert np.allclose(Lk, c * J, atol=1e-12)
        assert abs(abs(c) ** 2 - rate) < 1e-12 * max(1, rate)
    gamma = np.full((n_atoms, n_atoms), gamma0)
    f = f0 * (1 - np.eye(n_atoms))
    assert np.allclose(L.liouvillian(), double_sum_liouvillian(gamma, f, nbar), atol=1e-12)


def test_general_matrices_three_atoms_match_double_sum():
    rng = np.random.default_rng(1)
    pos = rng.uniform(-0.6, 0.6, size=(3, 3))
    dip = rng.standard_normal(3)
    gamma, f = collective.geometry_matrices(pos, dip, k0=2.0, gamma0=0.8)
    assert np.ptp(f[~np.eye(3, dtype=bool)]) > 0.1              # genuinely non-uniform f_ij
    assert np.linalg.eigvalsh(gamma).min() > 1e-3               # genuinely non-collective
    for nbar in (0.0, 0.5, 3.0):
        L = collective.lindblad_from_geometry(pos, dip, 2.0, 0.8, nbar)
        assert np.allclose(L.liouvillian(), double_sum_liouvillian(gamma, f, nbar), atol=1e-10)
        rho = random_state(8, rng)
        assert np.allclose(L.rhs(rho), double_sum_rhs(gamma, f, nbar, rho), atol=1e-10)
        assert len(L.channels) == 6                             # three Kossakowski directions


def test_geometry_matrices_hand_values_and_limits():
    # alpha = 90 deg (r along x, dipole along z), xi = 1: gamma = 1.5 cos 1, f = 0.75 sin 1
    g, f = collective.geometry_matrices([[0, 0, 0], [1, 0, 0]], [0, 0, 2], 1.0, 1.0)
    assert np.allclose(np.diag(g), 1.0) and np.allclose(np.diag(f), 0.0)
    assert np.isclose(g[0, 1], 1.5 * np.cos(1)) and np.isclose(f[0, 1], 0.75 * np.sin(1))
    # alpha = 0 (r parallel to the dipole), xi = 0.5 k0 * 2: gamma = 3(sin1 - cos1), f = -1.5(sin1 + cos1)
    g, f = collective.geometry_matrices([[0, 0, 0], [0, 0, 0.5]], [0, 0, -1], 2.0, 1.0)
    assert np.isclose(g[1, 0], 3 * (np.sin(1) - np.cos(1)))
    assert np.isclose(f[1, 0], -1.5 * (np.sin(1) + np.cos(1)))
    # small xi: gamma_ij -> gamma0 (1 - xi^2/5 + 3 xi^4/280 at alpha = 90 deg),
    # f -> 3 gamma0 (1 - 3cos^2)/(4 xi^3)
    for xi in (0.2, 1e-1, 5e-2, 2e-2, 1e-2, 5e-3, 1e-4):
        g, f = collective.geometry_matrices([[0, 0, 0], [xi, 0, 0]], [0, 0, 1], 1.0, 2.0)
        assert abs(g[0, 1] - 2.0 * (1 - xi ** 2 / 5 + 3 * xi ** 4 / 280)) < 2.0 * xi ** 6 + 1e-14
        assert np.isclose(f[0, 1], 3 * 2.0 / (4 * xi ** 3), rtol=xi ** 2)
    # series / closed-form switch at xi = 0.1 is continuous
    g1, _ = collective.geometry_matrices([[0, 0, 0], [0.3, 0.4, 0.0]], [1, 1, 1], 0.2 - 1e-13, 1.0)
    g2, _ = collective.geometry_matrices([[0, 0, 0], [0.3, 0.4, 0.0]], [1, 1, 1], 0.2 + 1e-13, 1.0)
    assert abs(g1[0, 1] - g2[0, 1]) < 1e-13
    # large xi: gamma_ij -> 0 (independent atoms), like 1/xi
    for xi in (1e3, 1e5):
        g, _ = collective.geometry_matrices([[0, 0, 0], [0, xi, 0], [xi, 0, xi]], [1, 0, 0], 1.0, 1.0)
        off = g[~np.eye(3, dtype=bool)]
        assert np.max(np.abs(off)) < 1.5 / xi * 1.01


def test_geometry_gamma_is_positive_for_random_clusters():
    rng = np.random.default_rng(2)
    for _ in range(20):
        pos = rng.uniform(0, 1, size=(4, 3))
        gamma, _ = collective.geometry_matrices(pos, rng.standard_normal(3), 3.0, 1.0)
        assert np.linalg.eigvalsh(gamma).min() > -1e-12
        collective.lindblad_from_geometry(pos, [0, 0, 1], 3.0, 1.0, 0.5)   # does not raise


def test_lindblad_from_matrices_drops_null_directions_and_sets_energies():
    gamma = np.array([[1.0, 1.0], [1.0, 1.0]])                  # rank 1
    L = collective.lindblad_from_matrices(gamma, np.zeros((2, 2)), 0.0, omega0=2.5)
    assert [c.name for c in L.channels] == ["emit_0", "absorb_0"]
    assert [c.rate for c in L.channels] == pytest.approx([2.0, 0.0])
    assert [c.energy for c in L.channels] == [-2.5, 2.5]


# --------------------------------------------------------------------------- Eq. (5)
@pytest.mark.parametrize("nbar", [0.0, 0.1, 1.0, 3.7, 10.0])
@pytest.mark.parametrize("f0", [0.0, 2.5])
def test_eq5_matches_exact_evolution(nbar, f0):
    gamma0 = 0.7
    L = collective.lindblad(2, nbar, gamma0, f0)
    rho0 = collective.ground_state(2)
    times = np.array([0.0, 0.01, 0.05, 0.2, 0.5, 1.0, 2.0, 5.0])
    exact = np.array([l1(evolve(L, rho0, t)) for t in times])
    assert np.allclose(collective.c_l1_two_atoms(times, nbar, gamma0), exact, atol=1e-8, rtol=0)
    states = qt.mesolve(L, rho0, times)
    assert states.shape == (len(times), 4, 4)
    assert np.allclose([l1(r) for r in states], exact, atol=1e-8, rtol=0)
    # symmetric X state: the only coherence is rho[1, 2] = rho[2, 1], real and non-negative
    last = states[-1]
    mask = np.ones((4, 4), bool)
    mask[np.diag_indices(4)] = False
    mask[1, 2] = mask[2, 1] = False
    assert np.allclose(last[mask], 0, atol=1e-12)
    assert abs(last[1, 2].imag) < 1e-12 and last[1, 2].real >= -1e-12
    assert abs(last[1, 1] - last[2, 2]) < 1e-12


def test_eq5_scalar_large_t_and_high_temperature_limit():
    assert collective.c_l1_two_atoms(0.0, 5.0) == 0.0
    assert collective.c_l1_two_atoms(1e6, 2.0) == pytest.approx(6 / 19, abs=1e-15)
    assert collective.c_l1_two_atoms(1e3, 1e6) == pytest.approx(1 / 3, abs=1e-6)
    assert np.all(collective.c_l1_two_atoms(np.linspace(0, 10, 11), 0.0) == 0.0)


def test_evolution_from_ground_state_is_independent_of_f0():
    times = np.linspace(0, 3, 13)
    a = qt.mesolve(collective.lindblad(2, 1.5, 1.0, 0.0), collective.ground_state(2), times)
    b = qt.mesolve(collective.lindblad(2, 1.5, 1.0, 100.0), collective.ground_state(2), times)
    assert np.allclose(a, b, atol=1e-10)
    # ... but not from a state with rho_22 != rho_33 (Appendix A)
    psi = collective.fig3_initial_states()[1]
    a = qt.mesolve(collective.lindblad(2, 1.5, 1.0, 0.0), psi, times)
    b = qt.mesolve(collective.lindblad(2, 1.5, 1.0, 1.0), psi, times)
    assert np.max(np.abs(a - b)) > 1e-2


# --------------------------------------------------------------------------- long times
@pytest.mark.parametrize("nbar", [0.0, 0.4, 10.0])
def test_longtime_c_l1_two_atoms_closed_form(nbar):
    expected = nbar * (nbar + 1) / (3 * nbar * (nbar + 1) + 1)
    assert collective.longtime_c_l1(2, nbar) == pytest.approx(expected, abs=1e-15)
    rho = evolve(collective.lindblad(2, nbar, 1.0, 0.3), collective.ground_state(2), 200.0)
    assert l1(rho) == pytest.approx(expected, abs=1e-10)
    assert np.allclose(rho, collective.pair_longtime_state(nbar), atol=1e-10)


@pytest.mark.parametrize("n_atoms", [2, 3])
@pytest.mark.parametrize("nbar", [0.5, 10.0])
def test_longtime_c_l1_matches_expm(n_atoms, nbar):
    L = collective.lindblad(n_atoms, nbar, 1.0, 1.0)
    rho0 = collective.ground_state(n_atoms)
    rho = evolve(L, rho0, 200.0)
    assert np.allclose(rho, evolve(L, rho0, 400.0), atol=1e-12)          # converged
    assert l1(rho) == pytest.approx(collective.longtime_c_l1(n_atoms, nbar), abs=1e-10)
    assert np.allclose(rho, collective.longtime_state(n_atoms, nbar), atol=1e-10)


@pytest.mark.parametrize("n_atoms", [2, 3, 4, 5, 6, pytest.param(7, marks=pytest.mark.slow)])
def test_longtime_c_l1_matches_steady_state(n_atoms):
    nbar = 10.0                                                          # Fig. 4
    L = collective.lindblad(n_atoms, nbar, 1.0, 1.0)
    rho = qt.steady_state(L, collective.ground_state(n_atoms))
    assert l1(rho) == pytest.approx(collective.longtime_c_l1(n_atoms, nbar), abs=1e-7)
    assert np.allclose(rho, collective.longtime_state(n_atoms, nbar), atol=1e-8)


@pytest.mark.parametrize("n_atoms", [2, 3, 4])
def test_collective_steady_state_is_not_unique(n_atoms):
    catalan = comb(2 * n_atoms, n_atoms) // (n_atoms + 1)
    L = collective.lindblad(n_atoms, 10.0, 1.0, 1.0)
    with pytest.raises(qt.NonUniqueSteadyState):
        qt.steady_state(L)
    ev = np.linalg.eigvals(L.liouvillian())
    assert np.sum(np.abs(ev) < 1e-9) == catalan


@pytest.mark.parametrize("n_atoms", range(2, 8))
def test_longtime_state_is_stationary_and_symmetric(n_atoms):
    """Cheap check for every N of Fig. 4: the closed-form state is a fixed point of the generator
    and lives in the symmetric subspace, where the steady state is unique (Dicke ladder)."""
    nbar = 10.0
    rho = collective.longtime_state(n_atoms, nbar)
    L = collective.lindblad(n_atoms, nbar, 1.0, 1.0)
    assert np.max(np.abs(L.rhs(rho))) < 1e-12
    swap = np.eye(2 ** n_atoms)[[int(format(i, f"0{n_atoms}b")[::-1], 2) for i in range(2 ** n_atoms)]]
    assert np.allclose(swap @ rho @ swap.T, rho)                        # atom-reversal symmetric
    assert l1(rho) == pytest.approx(collective.longtime_c_l1(n_atoms, nbar), abs=1e-12)


def test_longtime_c_l1_high_temperature_limit_and_monotone():
    for n in range(1, 8):
        assert collective.longtime_c_l1(n, 1e9) == pytest.approx(2 ** n / (n + 1) - 1, rel=1e-6)
        assert collective.longtime_c_l1(n, 0.0) == 0.0
    vals = [collective.longtime_c_l1(n, 10.0) for n in range(2, 8)]
    assert np.all(np.diff(vals) > 0)


# --------------------------------------------------------------------------- states
def test_states_and_basis_mapping():
    assert collective.ground_state(3)[0, 0] == 1 and np.trace(collective.ground_state(3)) == 1
    a, b = collective.fig3_initial_states()
    assert np.isclose(np.linalg.norm(a), 1) and np.isclose(np.linalg.norm(b), 1)
    n1 = np.kron(np.diag([0, 1]), np.eye(2))                            # atom 1 excited
    assert np.vdot(b, n1 @ b).real == pytest.approx(0.25)               # |eg> amplitude 1/2
    assert np.vdot(a, n1 @ a).real == pytest.approx(0.5)
    assert a[2] == pytest.approx(1j / np.sqrt(2))                       # i|eg>, atom 1 excited
    nbar = 2.0
    rho = collective.pair_longtime_state(nbar)
    x = nbar / (nbar + 1)
    p1 = x / (1 + x + x * x)
    assert np.isclose(np.trace(rho), 1) and np.isclose(rho[2, 1], p1 / 2)
    assert l1(rho) == pytest.approx(collective.longtime_c_l1(2, nbar))
    deph = collective.dephase_pair(rho)
    assert deph[1, 2] == 0 and deph[2, 1] == 0 and l1(deph) == 0
    assert np.allclose(np.diag(deph), np.diag(rho)) and rho[2, 1] != 0   # input untouched
    for k in range(4):
        psi = collective.dicke_state(3, k)
        assert np.isclose(np.linalg.norm(psi), 1) and np.count_nonzero(psi) == comb(3, k)


@pytest.mark.parametrize("f0", [1.0, 100.0])
def test_fig3_states_keep_singlet_weight(f0):
    nbar = 10.0
    L = collective.lindblad(2, nbar, 1.0, f0)
    singlet = np.array([0, -1, 1, 0]) / np.sqrt(2)                      # (|eg> - |ge>)/sqrt2
    c_gg = collective.longtime_c_l1(2, nbar)
    for psi in collective.fig3_initial_states():
        w = abs(np.vdot(singlet, psi)) ** 2
        expected = w * np.outer(singlet, singlet) + (1 - w) * collective.pair_longtime_state(nbar)
        rho_t = evolve(L, np.outer(psi, psi.conj()), 60.0)
        rho_ss = qt.steady_state(L, psi)
        assert np.allclose(rho_t, expected, atol=1e-10)
        assert np.allclose(rho_ss, expected, atol=1e-8)
        assert abs(np.vdot(singlet, rho_ss @ singlet) - w) < 1e-8
        assert abs(l1(rho_ss) - c_gg) > 1e-4


# --------------------------------------------------------------------------- finite separation
def test_finite_separation_has_unique_product_thermal_steady_state():
    nbar = 2.0
    L = collective.lindblad_from_geometry([[0, 0, 0], [0.3, 0, 0]], [0, 0, 1], 1.0, 1.0, nbar)
    rho = qt.steady_state(L)                                            # unique: no exception
    one = np.diag([nbar + 1, nbar]) / (2 * nbar + 1)
    assert np.allclose(rho, np.kron(one, one), atol=1e-10) and l1(rho) < 1e-10


def test_coherence_lifetime_grows_as_separation_shrinks():
    xis = np.array([1.0, 0.5, 0.2, 0.1, 0.05, 0.02])
    rates = collective.slowest_decay_rate(xis, 1.0)
    assert np.all(np.diff(rates) < 0) and rates[-1] < 1e-3
    assert np.all(np.diff(collective.coherence_lifetime(xis, 1.0)) > 0)
    # rate ~ xi^2 as xi -> 0; the slow mode is a population mode, so H_d does not change it
    scaled = rates / xis ** 2
    assert scaled[-1] == pytest.approx(scaled[-2], rel=1e-2)
    assert np.allclose(rates[1:], collective.slowest_decay_rate(xis[1:], 1.0, dipole_coupling=False),
                       rtol=1e-6)
    tiny = collective.slowest_decay_rate(1e-4, 1.0, dipole_coupling=False)
    assert tiny == pytest.approx(scaled[-1] * 1e-8, rel=1e-2)
    # the exact collective limit: a two-dimensional kernel (dark singlet), no decay at all
    ev = np.linalg.eigvals(collective.lindblad(2, 1.0, 1.0, 0.5).liouvillian())
    assert np.sum(np.abs(ev) < 1e-10) == 2
    # coherence from |gg> survives much longer at small separation
    c = []
    for xi in (0.5, 0.05):
        L = collective.lindblad_from_geometry([[0, 0, 0], [xi, 0, 0]], [0, 0, 1], 1.0, 1.0, 1.0)
        c.append(l1(evolve(L, collective.ground_state(2), 20.0)))
    assert c[1] > 0.9 * collective.longtime_c_l1(2, 1.0) and c[0] < 0.1 * c[1]


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("call", [
    lambda: collective.lindblad_from_matrices([[1, 2], [2, 1]], np.zeros((2, 2)), 1.0),
    lambda: collective.lindblad_from_matrices([[1, 0.2], [0.1, 1]], np.zeros((2, 2)), 1.0),
    lambda: collective.lindblad_from_matrices(np.eye(2), np.zeros((3, 3)), 1.0),
    lambda: collective.lindblad_from_matrices(np.eye(2), [[0, 1], [2, 0]], 1.0),
    lambda: collective.lindblad_from_matrices(np.ones(3), np.zeros(3), 1.0),
    lambda: collective.lindblad_from_matrices([[1, 0.5j], [-0.5j, 1]], np.zeros((2, 2)), 1.0),
    lambda: collective.lindblad_from_matrices(np.eye(2), np.zeros((2, 2)), -0.1),
    lambda: collective.lindblad(0, 1.0),
    lambda: collective.lindblad(2, -1.0),
    lambda: collective.lindblad(2, 1.0, gamma0=-1.0),
    lambda: collective.geometry_matrices([[0, 0, 0], [0, 0, 0]], [0, 0, 1], 1.0, 1.0),
    lambda: collective.geometry_matrices([[0, 0, 0], [1, 0, 0]], [0, 0, 0], 1.0, 1.0),
    lambda: collective.geometry_matrices([[0, 0], [1, 0]], [0, 0, 1], 1.0, 1.0),
    lambda: collective.geometry_matrices([[0, 0, 0], [1, 0, 0]], [0, 1], 1.0, 1.0),
    lambda: collective.geometry_matrices([[0, 0, 0], [1, 0, 0]], [0, 0, 1], 0.0, 1.0),
    lambda: collective.lindblad_from_geometry([[0, 0, 0], [1, 0, 0]], [0, 0, 1], 1.0, 1.0, -2.0),
    lambda: collective.c_l1_two_atoms([0.0, -1.0], 1.0),
    lambda: collective.c_l1_two_atoms(1.0, -1.0),
    lambda: collective.longtime_c_l1(0, 1.0),
    lambda: collective.longtime_c_l1(2, -1.0),
    lambda: collective.dephase_pair(np.eye(2)),
    lambda: collective.dicke_state(2, 3),
    lambda: collective.slowest_decay_rate(0.0, 1.0),
])
def test_bad_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()
