"""Shared fixtures: small models used across the test-suite."""

import numpy as np
import pytest

import qtraj as qt
from qtraj import operators as op


def random_lindblad(d: int = 4, n_channels: int = 3, seed: int = 7) -> qt.Lindblad:
    """A random d-level model: Hermitian H and several non-commuting jump operators."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    H = 0.5 * (A + A.conj().T)
    chans = []
    for k in range(n_channels):
        B = (rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))) / np.sqrt(d)
        chans.append(qt.Channel(B, rate=0.3 + 0.4 * k, bath=f"b{k % 2}"))
    return qt.Lindblad(H, chans)


def two_atom_model(nbar: float = 1.0, gamma0: float = 1.0, f0: float = 1.0) -> qt.Lindblad:
    """Two collective atoms written directly from J^-, J^+ (independent of models/collective)."""
    Jm = op.collective(op.sigma_minus(), 2)
    Jp = Jm.conj().T
    H = f0 * (Jp @ Jm - op.collective(op.number_op(), 2))   # f0 sum_{i != j} s_i^+ s_j^-
    return qt.Lindblad(H, [qt.Channel(Jm, gamma0 * (nbar + 1), "thermal"),
                           qt.Channel(Jp, gamma0 * nbar, "thermal")])


@pytest.fixture
def rand_model():
    return random_lindblad()


@pytest.fixture
def atoms2():
    return two_atom_model()
