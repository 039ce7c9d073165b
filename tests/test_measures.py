"""Tests of qtraj.measures: known values, conventions, inequalities and input validation."""

import numpy as np
import pytest

from qtraj import measures as m
from helpers import haar_unitary, random_state

LN2 = np.log(2.0)


def ket(*amps):
    v = np.asarray(amps, dtype=complex)
    return v / np.linalg.norm(v)


def dm(psi):
    return np.outer(psi, psi.conj())


def thermal_qubit(omega, T):
    p = np.exp(-np.array([0.0, omega]) / T)
    return np.diag(p / p.sum()).astype(complex)


PLUS = dm(ket(1, 1))
PLUS_I = dm(ket(1, 1j))          # (|0> + i|1>)/sqrt2: rho_01 = -i/2, so y = -2 Im(-i/2) = +1
BELL = dm(ket(1, 0, 0, 1))       # (|00> + |11>)/sqrt2


# ---------------------------------------------------------------- known values

def test_plus_state_l1_and_rec():
    assert m.l1_coherence(PLUS) == pytest.approx(1.0, abs=1e-12)
    assert m.relative_entropy_of_coherence(PLUS) == pytest.approx(LN2, abs=1e-12)


@pytest.mark.parametrize("d", [2, 3, 5, 8])
def test_maximally_coherent_state(d):
    rho = dm(np.ones(d) / np.sqrt(d))
    assert m.l1_coherence(rho) == pytest.approx(d - 1, abs=1e-10)
    assert m.relative_entropy_of_coherence(rho) == pytest.approx(np.log(d), abs=1e-10)
    # nondegenerate diagonal H: REA equals REC
    H = np.diag(np.arange(d, dtype=float))
    assert m.relative_entropy_of_asymmetry(rho, H) == pytest.approx(np.log(d), abs=1e-10)


def test_incoherent_states_have_zero_coherence():
    rho = np.diag([0.5, 0.3, 0.2]).astype(complex)
    assert m.l1_coherence(rho) == 0.0
    assert m.relative_entropy_of_coherence(rho) == pytest.approx(0.0, abs=1e-14)


def test_l1_in_given_basis():
    # |+> is incoherent in the x basis; |0> is maximally coherent there
    hadamard = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)
    assert m.l1_coherence(PLUS, basis=hadamard) == pytest.approx(0.0, abs=1e-12)
    assert m.l1_coherence(dm(ket(1, 0)), basis=hadamard) == pytest.approx(1.0, abs=1e-12)


def test_l1_complex_coherence():
    rho = np.array([[0.5, 0.3j], [-0.3j, 0.5]])
    assert m.l1_coherence(rho) == pytest.approx(0.6)


def test_entropy_known_values():
    assert m.von_neumann_entropy(dm(ket(1, 2j, 3))) == pytest.approx(0.0, abs=1e-12)
    assert m.von_neumann_entropy(np.eye(4) / 4) == pytest.approx(np.log(4))
    p = np.array([0.7, 0.2, 0.1])
    assert m.von_neumann_entropy(np.diag(p)) == pytest.approx(-np.sum(p * np.log(p)))


def test_entropy_clips_tiny_negative_eigenvalues():
    rho = np.diag([1.0 + 1e-12, -1e-12]).astype(complex)
    assert m.von_neumann_entropy(rho) == pytest.approx(0.0, abs=1e-10)


def test_entropy_unitary_invariance():
    rng = np.random.default_rng(1)
    for d in (2, 3, 6):
        rho = random_state(d, rng)
        u = haar_unitary(d, rng)
        assert m.von_neumann_entropy(u @ rho @ u.conj().T) == pytest.approx(
            m.von_neumann_entropy(rho), abs=1e-12)


# ---------------------------------------------------------------- dephasing, REC vs REA

def test_dephase_without_H_keeps_diagonal():
    rho = random_state(4, np.random.default_rng(2))
    out = m.dephase(rho)
    np.testing.assert_allclose(out, np.diag(np.diag(rho)), atol=1e-15)


def test_dephase_with_degenerate_H_keeps_block():
    rng = np.random.default_rng(3)
    rho = random_state(3, rng)
    out = m.dephase(rho, np.diag([0.0, 1.0, 1.0]))
    expected = rho.copy()
    expected[0, 1:] = expected[1:, 0] = 0.0
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_dephase_in_non_diagonal_H_eigenbasis():
    # H = sigma_x: eigenspaces |+>, |->; |+><+| is invariant, |0><0| goes to I/2
    sx = np.array([[0, 1], [1, 0]], dtype=complex)
    np.testing.assert_allclose(m.dephase(PLUS, sx), PLUS, atol=1e-12)
    np.testing.assert_allclose(m.dephase(dm(ket(1, 0)), sx), np.eye(2) / 2, atol=1e-12)


def test_rea_degenerate_block_coherence():
    H = np.diag([0.0, 1.0, 1.0])
    rho = dm(ket(0, 1, 1))  # coherence only inside the degenerate eigenspace {1, 2}
    assert m.relative_entropy_of_asymmetry(rho, H) == pytest.approx(0.0, abs=1e-12)
    assert m.relative_entropy_of_coherence(rho) == pytest.approx(LN2, abs=1e-12)


def test_rea_degeneracy_tolerance():
    rho = dm(ket(0, 1, 1))
    # levels 1 and 1 + 1e-13: degenerate within tolerance
    assert m.relative_entropy_of_asymmetry(rho, np.diag([0.0, 1.0, 1.0 + 1e-13])) == \
        pytest.approx(0.0, abs=1e-12)
    # clearly split levels: REA = REC = ln 2
    assert m.relative_entropy_of_asymmetry(rho, np.diag([0.0, 1.0, 1.001])) == \
        pytest.approx(LN2, abs=1e-12)


def test_rec_ge_rea_ge_zero_on_random_states():
    rng = np.random.default_rng(12345)
    H = np.diag([0.0, 1.0, 1.0, 2.5])
    for _ in range(50):
        rho = random_state(4, rng, rank=int(rng.integers(1, 5)))
        rec = m.relative_entropy_of_coherence(rho)
        rea = m.relative_entropy_of_asymmetry(rho, H)
        assert rea >= 0.0
        assert rec >= rea - 1e-12
        # C - A = C(rho_tilde) (Manzano, Silva & Parrondo 2019, below Eq. 4)
        assert rec - rea == pytest.approx(
            m.relative_entropy_of_coherence(m.dephase(rho, H)), abs=1e-10)


def test_rec_equals_relative_entropy_to_dephased():
    rng = np.random.default_rng(7)
    rho = random_state(3, rng)
    assert m.relative_entropy_of_coherence(rho) == pytest.approx(
        m.relative_entropy(rho, m.dephase(rho)), abs=1e-10)


# ---------------------------------------------------------------- relative entropy

def test_relative_entropy_values():
    rho = np.diag([0.75, 0.25]).astype(complex)
    sigma = np.eye(2) / 2
    assert m.relative_entropy(rho, rho) == pytest.approx(0.0, abs=1e-12)
    assert m.relative_entropy(rho, sigma) == pytest.approx(LN2 - m.von_neumann_entropy(rho))
    assert m.relative_entropy(PLUS, PLUS) == pytest.approx(0.0, abs=1e-12)


def test_relative_entropy_infinite_outside_support():
    assert m.relative_entropy(np.eye(2) / 2, dm(ket(1, 0))) == np.inf
    assert m.relative_entropy(PLUS, dm(ket(1, 0))) == np.inf
    assert np.isfinite(m.relative_entropy(dm(ket(1, 0)), np.eye(2) / 2))


# ---------------------------------------------------------------- mutual information

def test_bell_state_mutual_information():
    assert m.mutual_information(BELL, [2, 2], [0]) == pytest.approx(2 * LN2, abs=1e-12)
    assert m.mutual_information(BELL, [2, 2], [1]) == pytest.approx(2 * LN2, abs=1e-12)


def test_product_states_have_zero_mutual_information():
    rng = np.random.default_rng(4)
    a, b, c = random_state(2, rng), random_state(3, rng), random_state(2, rng)
    rho = np.kron(np.kron(a, b), c)
    for part in ([0], [1], [2], [0, 2], [1, 2]):
        assert m.mutual_information(rho, [2, 3, 2], part) == pytest.approx(0.0, abs=1e-10)


def test_mutual_information_uses_the_right_bipartition():
    # Bell pair on qubits 0 and 2, qubit 1 in |0>: only cuts separating 0 from 2 see 2 ln 2
    rho = np.zeros((8, 8), dtype=complex)
    idx = [0b000, 0b101]
    rho[np.ix_(idx, idx)] = 0.5
    assert m.mutual_information(rho, [2, 2, 2], [0]) == pytest.approx(2 * LN2, abs=1e-12)
    assert m.mutual_information(rho, [2, 2, 2], [1]) == pytest.approx(0.0, abs=1e-12)
    assert m.mutual_information(rho, [2, 2, 2], [0, 2]) == pytest.approx(0.0, abs=1e-12)


def test_classically_correlated_state():
    rho = np.diag([0.5, 0, 0, 0.5]).astype(complex)
    assert m.mutual_information(rho, [2, 2], [0]) == pytest.approx(LN2, abs=1e-12)


# ---------------------------------------------------------------- qubit helpers

@pytest.mark.parametrize("rho, expected", [
    (dm(ket(1, 0)), [0, 0, -1]),      # ground state points down
    (dm(ket(0, 1)), [0, 0, 1]),       # excited state points up
    (PLUS, [1, 0, 0]),
    (dm(ket(1, -1)), [-1, 0, 0]),
    (PLUS_I, [0, 1, 0]),
    (dm(ket(1, -1j)), [0, -1, 0]),
    (np.eye(2) / 2, [0, 0, 0]),
])
def test_bloch_vector(rho, expected):
    np.testing.assert_allclose(m.bloch_vector(rho), expected, atol=1e-12)


def test_bloch_vector_of_plus_i_by_hand():
    assert PLUS_I[0, 1] == pytest.approx(-0.5j)
    assert m.bloch_vector(PLUS_I)[1] == pytest.approx(1.0)


def test_bloch_vector_reconstructs_state():
    rng = np.random.default_rng(5)
    rho = random_state(2, rng)
    x, y, z = m.bloch_vector(rho)
    r01 = (x - 1j * y) / 2
    rebuilt = np.array([[(1 - z) / 2, r01], [np.conj(r01), (1 + z) / 2]])
    np.testing.assert_allclose(rebuilt, rho, atol=1e-12)


@pytest.mark.parametrize("omega, T", [(1.0, 0.3), (1.0, 2.0), (2.5, 10.0), (0.7, 1e-1)])
def test_effective_temperature_recovers_thermal(omega, T):
    assert m.effective_temperature(thermal_qubit(omega, T), omega) == pytest.approx(T, rel=1e-10)


def test_effective_temperature_special_cases():
    assert m.effective_temperature(np.eye(2) / 2, 1.0) == np.inf
    T = m.effective_temperature(np.diag([0.25, 0.75]).astype(complex), 1.0)
    assert T == pytest.approx(-1.0 / np.log(3.0))
    assert T < 0
    # coherences do not matter, only populations
    assert m.effective_temperature(np.array([[0.75, 0.2], [0.2, 0.25]]), 1.0) == \
        pytest.approx(1.0 / np.log(3.0))


@pytest.mark.parametrize("rho", [dm(ket(1, 0)), dm(ket(0, 1))])
def test_effective_temperature_zero_population_raises(rho):
    with pytest.raises(ValueError, match="population"):
        m.effective_temperature(rho, 1.0)


def test_effective_temperature_needs_qubit_and_positive_gap():
    with pytest.raises(ValueError):
        m.effective_temperature(np.eye(3) / 3, 1.0)
    with pytest.raises(ValueError, match="omega"):
        m.effective_temperature(np.eye(2) / 2, -1.0)


# ---------------------------------------------------------------- validation

BAD = {
    "not square": np.ones((2, 3)) / 2,
    "vector": np.array([0.5, 0.5]),
    "nan": np.array([[0.5, np.nan], [np.nan, 0.5]]),
    "non-hermitian": np.array([[0.5, 0.3], [0.1, 0.5]]),
    "trace": np.eye(2),
    "negative": np.diag([1.5, -0.5]),
}

CALLS = {
    "l1_coherence": lambda r: m.l1_coherence(r),
    "von_neumann_entropy": lambda r: m.von_neumann_entropy(r),
    "dephase": lambda r: m.dephase(r),
    "dephase_H": lambda r: m.dephase(r, np.diag([0.0, 1.0])),
    "rec": lambda r: m.relative_entropy_of_coherence(r),
    "rea": lambda r: m.relative_entropy_of_asymmetry(r, np.diag([0.0, 1.0])),
    "mutual_information": lambda r: m.mutual_information(r, [2], [0]),
    "bloch_vector": lambda r: m.bloch_vector(r),
    "effective_temperature": lambda r: m.effective_temperature(r, 1.0),
    "relative_entropy_rho": lambda r: m.relative_entropy(r, np.eye(2) / 2),
    "relative_entropy_sigma": lambda r: m.relative_entropy(np.eye(2) / 2, r),
}


@pytest.mark.parametrize("bad", list(BAD))
@pytest.mark.parametrize("call", list(CALLS))
def test_invalid_density_matrix_raises(call, bad):
    with pytest.raises(ValueError):
        CALLS[call](BAD[bad])


def test_error_messages_name_the_problem():
    with pytest.raises(ValueError, match="square"):
        m.von_neumann_entropy(BAD["not square"])
    with pytest.raises(ValueError, match="NaN"):
        m.von_neumann_entropy(BAD["nan"])
    with pytest.raises(ValueError, match="Hermitian"):
        m.von_neumann_entropy(BAD["non-hermitian"])
    with pytest.raises(ValueError, match="trace"):
        m.von_neumann_entropy(BAD["trace"])


def test_invalid_other_arguments_raise():
    rho = np.eye(2) / 2
    with pytest.raises(ValueError, match="H"):
        m.dephase(rho, np.array([[0.0, 1.0], [0.0, 0.0]]))       # non-Hermitian H
    with pytest.raises(ValueError, match="H"):
        m.dephase(rho, np.eye(3))                                # wrong size
    with pytest.raises(ValueError, match="unitary"):
        m.l1_coherence(rho, basis=np.array([[1.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="sigma"):
        m.relative_entropy(rho, np.eye(3) / 3)
    with pytest.raises(ValueError, match="dims"):
        m.mutual_information(BELL, [2, 3], [0])
    with pytest.raises(ValueError, match="part_a"):
        m.mutual_information(BELL, [2, 2], [2])
    with pytest.raises(ValueError, match="part_a"):
        m.mutual_information(BELL, [2, 2], [0, 1])
    with pytest.raises(ValueError, match="part_a"):
        m.mutual_information(BELL, [2, 2], [])
    with pytest.raises(ValueError):
        m.bloch_vector(np.eye(3) / 3)
