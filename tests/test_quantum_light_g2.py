"""Photon statistics of the atom-mode model (quantum light): g2(0) = 2, 1, 1 - 1/n for thermal,
coherent and Fock fields, its evolution, and the classical bound g2(0) >= 1 of every P-averaged
classical field (so antibunched light has no classical model)."""

import numpy as np
import pytest

from qtraj.models import quantum_light as ql


@pytest.mark.parametrize("field, g2", [(ql.thermal(0.7), 2.0), (ql.coherent(1.2 - 0.5j), 1.0)]
                         + [(ql.fock(n), 1 - 1 / n) for n in (1, 2, 3, 5)])
def test_g2_of_thermal_coherent_and_fock_light(field, g2):
    nbar, g2_0, Q = ql.photon_statistics(field, 80)
    assert g2_0 == pytest.approx(g2, abs=1e-10)
    assert nbar == pytest.approx(field.nbar, abs=1e-10)
    assert Q == pytest.approx(nbar * (g2 - 1), abs=1e-9)       # Q = nbar (g2(0) - 1)
    assert ql.field_g2(0.0, 0.0, field, 80) == pytest.approx(g2, abs=1e-10)


@pytest.mark.parametrize("n", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_jaynes_cummings_changes_the_fock_statistics(n):
    """From |g, n> the field is a mixture of |n> and |n-1> with weight P_e = sin^2(g sqrt(n) t)
    on |n-1>, so g2 = [(1-P) n(n-1) + P (n-1)(n-2)] / (n - P)^2."""
    g, n_max = 0.8, n + 3
    for t in (0.3, 1.1):
        P = np.sin(g * np.sqrt(n) * t) ** 2
        exact = ((1 - P) * n * (n - 1) + P * (n - 1) * (n - 2)) / (n - P) ** 2
        assert ql.field_g2(g, t, ql.fock(n), n_max) == pytest.approx(exact, abs=1e-10)


@pytest.mark.parametrize("field", [ql.thermal(0.5), ql.coherent(0.9), ql.fock(3)])
def test_pure_cavity_loss_keeps_g2(field):
    """Loss thins photons at random: the normally ordered moments scale as e^{-k kappa tau}, so
    the normalised g2(tau) stays g2(0)."""
    tau = np.linspace(0, 3, 7)
    g2 = ql.cavity_g2(0.0, field, 30, tau, kappa=0.7)
    np.testing.assert_allclose(g2, ql.photon_statistics(field, 30)[1], atol=1e-9)


def test_coupling_to_an_atom_makes_the_cavity_output_nonclassical_in_time():
    """With the atom (and losses) the two-time g2 of thermal light departs from its initial
    value and stays finite; at tau = 0 it is the field's g2(0)."""
    tau = np.linspace(0, 4, 9)
    g2 = ql.cavity_g2(1.0, ql.thermal(0.5), 30, tau, gamma=0.3, kappa=0.5)
    assert g2[0] == pytest.approx(2.0, abs=1e-9)
    assert np.all(np.isfinite(g2)) and np.ptp(g2) > 0.05


def test_no_p_averaged_classical_field_is_antibunched():
    """Random non-negative discrete P functions: g2(0) = <|b|^4>/<|b|^2>^2 >= 1 (Cauchy-Schwarz),
    with equality only for a single intensity; and the quantum state with that P (a mixture of
    coherent states) has exactly this g2(0).  Fock light (1 - 1/n < 1) is therefore outside."""
    rng = np.random.default_rng(2024)
    n_max = 40
    values = []
    for _ in range(200):
        k = rng.integers(1, 6)
        p = rng.random(k) * (rng.random(k) > 0.2) + 1e-3
        betas = rng.normal(size=k) + 1j * rng.normal(size=k)
        values.append(ql.classical_g2(p, betas))
    values = np.array(values)
    assert np.all(values >= 1 - 1e-12)
    assert values.min() < 1.01                 # the bound is reached (one amplitude)
    # the quantum state with this P has the same g2(0)
    p, betas = np.array([0.3, 0.7]), np.array([0.8, 1.5j])
    rho = sum(w * ql.coherent(b).density(n_max) for w, b in zip(p, betas))
    n = np.arange(n_max + 1.0)
    pn = np.real(np.diagonal(rho))
    quantum = np.dot(n * (n - 1), pn) / np.dot(n, pn) ** 2
    assert quantum == pytest.approx(ql.classical_g2(p, betas), abs=1e-10)
    assert ql.p_averaged_g2(ql.thermal(0.8)) == pytest.approx(2.0, abs=1e-12)
    assert ql.p_averaged_g2(ql.coherent(0.5)) == pytest.approx(1.0, abs=1e-14)
    for n in (1, 2, 7):                        # Fock: below every classical value
        assert ql.photon_statistics(ql.fock(n), 10)[1] < values.min() - 0.1
    with pytest.raises(ValueError, match="Fock"):
        ql.p_averaged_g2(ql.fock(2))
    with pytest.raises(ValueError, match="non-negative"):
        ql.classical_g2([0.5, -0.1], [1.0, 2.0])


def test_quantum_light_docstring_examples_run():
    import doctest
    res = doctest.testmod(ql, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0
