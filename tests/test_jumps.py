"""Quantum-jump ensembles against the master equation of the same model object."""

import numpy as np
import pytest
import scipy.linalg as sla
from scipy import stats

import qtraj as qt
from qtraj import operators as op
from helpers import assert_consistent, assert_stderr_scaling, random_lindblad, two_atom_model


def test_collective_atoms_agree_with_mesolve_elementwise():
    L = two_atom_model(nbar=1.0, f0=1.0)
    rho0 = op.ket2dm((op.basis(4, 1) + 1j * op.basis(4, 2)) / np.sqrt(2))  # Fig. 3-like state
    times = np.linspace(0, 2, 9)
    pops = [op.ket2dm(op.basis(4, i)) for i in range(4)]
    res = qt.mcsolve(L, rho0, times, ntraj=4000, seed=11, e_ops=pops, store_states=True,
                     progress=False)
    exact = qt.mesolve(L, rho0, times)
    assert_consistent(res.mean, res.stderr, exact, name="rho")
    assert_consistent(res.expect, res.expect_stderr, np.einsum("kii->ik", exact).real,
                      name="expect")
    assert res.expect.dtype == float and res.expect.shape == (4, 9)
    assert res.ntraj == 4000 and res.seed["entropy"] == 11
    # coherences are resolved, not just populations (nonzero and within error bars)
    assert np.max(np.abs(res.mean[-1, 1, 2])) > 10 * np.max(res.stderr[-1, 1, 2].real)


def test_random_nonnormal_model_agrees_and_error_shrinks():
    L = random_lindblad(d=4, n_channels=3, seed=7)
    rng = np.random.default_rng(3)
    A = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    rho0 = A @ A.conj().T
    rho0 /= np.trace(rho0)                       # full-rank mixed initial state
    times = np.linspace(0, 1.5, 6)
    exact = qt.mesolve(L, rho0, times)
    small = qt.mcsolve(L, rho0, times, ntraj=1000, seed=5, progress=False)
    big = qt.mcsolve(L, rho0, times, ntraj=16000, seed=6, progress=False)
    assert_consistent(small.mean, small.stderr, exact, name="rho(N=1000)")
    assert_consistent(big.mean, big.stderr, exact, name="rho(N=16000)")
    # standard error ~ 1/sqrt(N): 16x trajectories -> 4x smaller (median over components)
    assert_stderr_scaling(small.stderr[1:], big.stderr[1:], 1000, 16000, rtol=0.1)
    # and the actual error shrinks too
    err_small = np.abs(small.mean - exact).mean()
    err_big = np.abs(big.mean - exact).mean()
    assert err_big < err_small


def test_first_jump_times_follow_exact_survival_function():
    """KS test of the waiting time to the first jump against ||exp(-i H_eff t) psi0||^2."""
    L = random_lindblad(d=3, n_channels=2, seed=4)
    psi0 = op.basis(3, 0)
    T = 3.0
    res = qt.mcsolve(L, psi0, [0.0, T], ntraj=6000, seed=2, keep_jumps=True, store_states=False,
                     progress=False)
    traj, tj = res["jump_traj"], res["jump_time"]
    first = np.full(6000, np.inf)
    np.minimum.at(first, traj, tj)
    first = first[np.isfinite(first)]
    Heff = L.effective_hamiltonian()

    def survival(t):
        return np.array([np.linalg.norm(sla.expm(-1j * Heff * s) @ psi0) ** 2
                         for s in np.atleast_1d(t)])
    ST = survival(T)[0]
    grid = np.linspace(0, T, 2001)
    cdf_grid = (1 - survival(grid)) / (1 - ST)
    cdf = lambda t: np.interp(t, grid, cdf_grid)  # noqa: E731 (smooth, fine grid)
    ks = stats.kstest(first, cdf)
    assert ks.pvalue > 0.01, ks
    # the number of trajectories with a jump is binomial with p = 1 - S(T)
    assert_consistent(first.size, np.sqrt(6000 * ST * (1 - ST)), 6000 * (1 - ST),
                      name="trajectories with a jump")
    # jump counts records are consistent with the stored jumps
    assert res["jump_counts"].sum() * 6000 == pytest.approx(tj.size)


def test_same_seed_same_numbers_any_jobs_batch_backend():
    L = random_lindblad(d=3, n_channels=2, seed=1)
    times = np.linspace(0, 1, 4)
    kw = dict(ntraj=700, seed=42, progress=False, e_ops=[np.diag([1.0, 2.0, 3.0])],
              store_states=True)
    ref = qt.mcsolve(L, op.basis(3, 0), times, n_jobs=1, batch_size=64, **kw)
    variants = [
        qt.mcsolve(L, op.basis(3, 0), times, n_jobs=1, batch_size=256, **kw),
        qt.mcsolve(L, op.basis(3, 0), times, n_jobs=2, batch_size=128, backend="loky", **kw),
        qt.mcsolve(L, op.basis(3, 0), times, n_jobs=2, batch_size=64, backend="threading", **kw),
    ]
    for v in variants:
        assert np.array_equal(v.mean, ref.mean)
        assert np.array_equal(v.stderr, ref.stderr)
        assert np.array_equal(v.expect, ref.expect)
        assert np.array_equal(v["jump_counts"], ref["jump_counts"])
    other = qt.mcsolve(L, op.basis(3, 0), times, n_jobs=1, **dict(kw, seed=43))
    assert not np.array_equal(other.mean, ref.mean)


def test_no_jumps_without_dissipation_and_deterministic_components():
    H = np.diag([0.0, 1.0]).astype(complex)
    L = qt.Lindblad(H, [qt.Channel(op.sigma_minus(), 0.0)])
    psi = np.array([1, 1]) / np.sqrt(2)
    res = qt.mcsolve(L, psi, [0, 1, 2], ntraj=10, seed=0, progress=False)
    assert np.allclose(res.mean, qt.mesolve(L, psi, [0, 1, 2]), atol=1e-13)
    assert np.allclose(res.stderr, 0, atol=1e-13)
    assert res["jump_counts"].tolist() == [0.0]


@pytest.mark.parametrize("kwargs, err, msg", [
    (dict(ntraj=0), ValueError, "ntraj"),
    (dict(ntraj=1.5), TypeError, "ntraj"),
    (dict(state0=np.diag([0.2, 0.2, 0.2])), ValueError, "trace"),
    (dict(state0=np.ones(2) / np.sqrt(2)), ValueError, "length"),
    (dict(e_ops=[np.eye(2)]), ValueError, "e_ops"),
    (dict(seed=-3), ValueError, "seed"),
    (dict(backend="mpi"), ValueError, "backend"),
    (dict(times=[1.0, 0.0]), ValueError, "non-decreasing"),
])
def test_bad_input_raises(kwargs, err, msg):
    L = random_lindblad(d=3, n_channels=2, seed=1)
    args = dict(state0=op.basis(3, 0), times=[0, 1], ntraj=10, progress=False)
    args.update(kwargs)
    with pytest.raises(err, match=msg):
        qt.mcsolve(L, **args)


def test_defective_effective_hamiltonian_is_refused_by_the_eigen_method_only():
    # driven, damped qubit at its exceptional point: H_eff is a Jordan block
    g = 1.0
    H = (g / 4) * op.sigma_x()
    L = qt.Lindblad(H, [qt.Channel(op.sigma_minus(), g)])
    with pytest.raises(ValueError, match="defective"):
        qt.mcsolve(L, op.basis(2, 1), [0, 1], ntraj=4, progress=False, method="eigen")
    res = qt.mcsolve(L, op.basis(2, 1), [0, 1], ntraj=4, progress=False)   # auto: Krylov
    assert res.meta["propagator"] == "krylov"


def test_heat_counted_from_jumps_matches_integrated_heat_current():
    H = 0.5 * op.sigma_z()
    L = qt.Lindblad(H, [qt.Channel(op.sigma_minus(), 1.0, "hot"),
                        qt.Channel(op.sigma_plus(), 0.5, "hot"),
                        qt.Channel(op.sigma_minus(), 0.3, "cold"),
                        qt.Channel(op.sigma_plus(), 0.05, "cold")])
    times = np.linspace(0, 8, 5)
    res = qt.mcsolve(L, op.basis(2, 1), times, 8000, seed=1, progress=False)
    fine = np.linspace(0, 8, 8001)
    J = np.array([[qt.heat_currents(L, r)[b] for b in res.meta["baths"]]
                  for r in qt.mesolve(L, op.basis(2, 1), fine)])
    cumulative = np.array([np.trapezoid(J[: 2000 * i + 1], fine[: 2000 * i + 1], axis=0)
                           for i in range(5)]).T
    assert_consistent(res["heat_cumulative"][:, 1:], res["heat_cumulative_stderr"][:, 1:],
                      cumulative[:, 1:], name="heat_cumulative")
    assert res.meta["baths"] == ["hot", "cold"]
    assert np.allclose(res["heat_current"], res["heat"] / 8)
    # undefined jump energy (operator mixing different gaps): NaN, never a guess
    L2 = qt.Lindblad(H, [qt.Channel(op.sigma_x(), 1.0, "odd"), qt.Channel(op.sigma_minus(), 1.0)])
    r2 = qt.mcsolve(L2, op.basis(2, 1), [0, 1], 50, seed=1, progress=False)
    assert np.isnan(r2["heat"][0]) and np.isfinite(r2["heat"][1])
