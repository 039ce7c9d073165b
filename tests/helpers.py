"""Shared test helpers: random states and unitaries, small reference models, and the
statistical assertions every Monte Carlo test uses.

Statistical assertions
----------------------
A Monte Carlo test compares m numbers (every real and imaginary part of every array element)
with their exact values.  Testing each at a fixed "4 standard errors" makes the chance of a
false alarm grow with m, and a test that passes today may fail as soon as a refactor changes
the random stream.  `assert_consistent` therefore uses the two-sided Bonferroni threshold

    z* = Phi^{-1}(1 - alpha / (2 m))

so that, whatever m is, the probability that a correct simulation fails the assertion is at
most `alpha` (the family-wise false-alarm probability).  The default ``ALPHA = 1e-4`` keeps the
whole suite (of the order of a hundred such assertions) below about a 1 % chance of a spurious
failure each time the random numbers change; z* is 3.9 for one component, 4.5 for 16, 4.9 for
100.  Redundant components (e.g. both triangles of a Hermitian matrix) only make the test more
conservative.  When the standard errors come from few independent samples (batch means of one
long run, a few dozen machine trajectories), pass ``dof`` (samples - 1) to use Student's t
quantile instead of the normal one.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from scipy import stats

import qtraj as qt
from qtraj import operators as op

__all__ = [
    "ALPHA", "random_state", "random_unitary", "haar_unitary", "random_lindblad",
    "two_atom_model", "two_bath_qubit", "integrated_heat", "bonferroni_threshold",
    "assert_consistent", "assert_inconsistent", "assert_frequencies_consistent",
    "assert_stderr_scaling",
]

#: default family-wise false-alarm probability of one statistical assertion (see module doc)
ALPHA = 1e-4


# --------------------------------------------------------------------------- random objects
def random_state(d: int, seed, rank: int | None = None) -> np.ndarray:
    """Random density matrix G G^dag / Tr, G a complex Gaussian (d, rank) matrix (full rank by
    default).  `seed` is an int or a numpy Generator (then its stream is consumed)."""
    rng = np.random.default_rng(seed)
    rank = d if rank is None else rank
    g = rng.normal(size=(d, rank)) + 1j * rng.normal(size=(d, rank))
    rho = g @ g.conj().T
    return rho / np.trace(rho)


def random_unitary(d: int, seed) -> np.ndarray:
    """exp(-i h) for a random Hermitian h = (A + A^dag) / 2, A complex Gaussian."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    return sla.expm(-1j * (A + A.conj().T) / 2)


def haar_unitary(d: int, seed) -> np.ndarray:
    """Haar-random unitary (QR of a complex Gaussian matrix with the phases of R divided out)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d)))
    return q * (np.diag(r) / np.abs(np.diag(r)))


# --------------------------------------------------------------------------- reference models
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


def two_bath_qubit() -> qt.Lindblad:
    """Qubit (gap 1) between a hot and a cold bath, emission and absorption in each."""
    return qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 1.0, "hot"),
                                            qt.Channel(op.sigma_plus(), 0.5, "hot"),
                                            qt.Channel(op.sigma_minus(), 0.3, "cold"),
                                            qt.Channel(op.sigma_plus(), 0.05, "cold")])


def integrated_heat(model: qt.Lindblad, state0, times, steps: int = 1000) -> np.ndarray:
    """Exact mean heat from each bath up to each time, (n_baths, n_times), baths in the order
    of `model.baths`: the trapezoid integral of Tr[H D_b(rho(t))] along `qt.mesolve`, with
    `steps` sub-steps per interval of `times` (error O(steps^-2), far below any standard
    error the tests resolve)."""
    times = np.asarray(times, dtype=float)
    fine = np.concatenate([np.linspace(a, b, steps + 1)[:-1] for a, b in
                           zip(times[:-1], times[1:])] + [times[-1:]])
    J = np.array([[qt.heat_currents(model, r)[b] for b in model.baths]
                  for r in qt.mesolve(model, state0, fine)])
    out = [np.trapezoid(J[: steps * i + 1], fine[: steps * i + 1], axis=0)
           for i in range(len(times))]
    return np.array(out).T


# --------------------------------------------------------------------------- statistics
def bonferroni_threshold(m: int, alpha: float = ALPHA, dof: int | None = None) -> float:
    """Two-sided Bonferroni threshold z* = Phi^{-1}(1 - alpha / (2 m)) for m comparisons
    (Student's t quantile with `dof` degrees of freedom if given)."""
    q = alpha / (2 * max(int(m), 1))
    return float(stats.norm.isf(q) if dof is None else stats.t.isf(q, dof))


def _components(estimate, stderr, exact):
    """Flatten to real components: labels, differences estimate - exact, standard errors.
    Complex numbers give two components, the real part with SE Re(stderr) and the imaginary
    part with SE Im(stderr) (the convention of qtraj's complex standard errors)."""
    est, se, ex = (np.asarray(a) for a in (estimate, stderr, exact))
    shape = np.broadcast_shapes(est.shape, se.shape, ex.shape)
    est, se, ex = (np.broadcast_to(a, shape) for a in (est, se, ex))
    index = [str(list(i)) if i else "" for i in np.ndindex(shape)]
    if np.iscomplexobj(est) or np.iscomplexobj(ex):
        if not np.iscomplexobj(se) and np.any(np.imag(est) != np.imag(ex)):
            raise TypeError("complex estimate with a real stderr: pass stderr as "
                            "SE(Re) + 1j * SE(Im)")
        labels = [i + ".re" for i in index] + [i + ".im" for i in index]
        diff = np.concatenate([(est.real - ex.real).ravel(), (est.imag - ex.imag).ravel()])
        err = np.concatenate([np.real(se).ravel(), np.imag(se).ravel()])
        estv = np.concatenate([est.real.ravel(), est.imag.ravel()])
        exv = np.concatenate([ex.real.ravel(), ex.imag.ravel()])
    else:
        labels, diff, err = index, (est - ex).ravel().astype(float), se.ravel().astype(float)
        estv, exv = est.ravel(), ex.ravel()
    return labels, diff, err, estv, exv


def _scores(estimate, stderr, exact, atol):
    labels, diff, err, estv, exv = _components(estimate, stderr, exact)
    if not (np.all(np.isfinite(diff)) and np.all(np.isfinite(err)) and np.all(err >= 0)):
        raise AssertionError("non-finite estimate, exact value or standard error "
                             f"(or a negative standard error): diff={diff}, stderr={err}")
    excess = np.maximum(np.abs(diff) - atol, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(err > 0, excess / np.where(err > 0, err, 1.0),
                     np.where(excess > 0, np.inf, 0.0))
    z = z * np.sign(diff)
    m = int(np.count_nonzero(err > 0))
    return labels, z, err, estv, exv, m


def _describe(name, labels, z, err, estv, exv, k, zstar, m, alpha):
    return (f"{name}{labels[k]}: estimate {float(estv[k]):.10g}, exact {float(exv[k]):.10g} "
            f"(difference {float(estv[k] - exv[k]):.3g}), stderr {err[k]:.3g}, z = {z[k]:.2f}; "
            f"threshold z* = {zstar:.2f} for m = {m} components at family-wise alpha = {alpha:g}")


def assert_consistent(estimate, stderr, exact, alpha: float = ALPHA, name: str = "",
                      atol: float = 1e-12, dof: int | None = None) -> float:
    """Assert that Monte Carlo estimates agree with exact values within their standard errors.

    Every real component k (real and imaginary parts of complex entries separately) must
    satisfy |estimate_k - exact_k| <= atol + z* stderr_k, with z* the two-sided Bonferroni
    threshold for the m components whose stderr is nonzero, so a correct simulation fails with
    probability <= alpha.  Components with zero stderr are deterministic: they must agree
    within `atol` and are not counted in m.

    Parameters
    ----------
    estimate, stderr, exact : array_like, broadcast together.  A complex `stderr` holds the SE
        of the real parts in its real part and of the imaginary parts in its imaginary part.
    alpha : family-wise false-alarm probability (default `ALPHA`).
    name : label used in the failure message.
    atol : accuracy of `exact` and rounding of `estimate` (differences below it count as zero).
    dof : degrees of freedom of the standard errors (use Student's t quantile); None: normal.

    Returns
    -------
    float : the largest |z| (for information).

    Raises
    ------
    AssertionError naming the worst component, its z, the threshold z* and m.
    """
    labels, z, err, estv, exv, m = _scores(estimate, stderr, exact, atol)
    zstar = bonferroni_threshold(m, alpha, dof)
    k = int(np.argmax(np.abs(z))) if z.size else 0
    if z.size and abs(z[k]) > zstar:
        raise AssertionError("inconsistent with exact value: "
                             + _describe(name, labels, z, err, estv, exv, k, zstar, m, alpha))
    return float(abs(z[k])) if z.size else 0.0


def assert_inconsistent(estimate, stderr, other, alpha: float = ALPHA, name: str = "",
                        atol: float = 1e-12, dof: int | None = None) -> float:
    """Assert resolving power: the estimates are inconsistent with `other` (e.g. an
    approximation), i.e. `assert_consistent(estimate, stderr, other, ...)` would fail.

    Parameters and return value as in `assert_consistent`.

    Raises
    ------
    AssertionError if every component agrees with `other` within z* (the best |z| is shown).
    """
    labels, z, err, estv, exv, m = _scores(estimate, stderr, other, atol)
    zstar = bonferroni_threshold(m, alpha, dof)
    k = int(np.argmax(np.abs(z)))
    if not abs(z[k]) > zstar:
        raise AssertionError("not resolved from the alternative: "
                             + _describe(name, labels, z, err, estv, exv, k, zstar, m, alpha))
    return float(abs(z[k]))


def assert_frequencies_consistent(p_hat, n: int, p_exact, alpha: float = ALPHA,
                                  name: str = "") -> None:
    """Assert that observed frequencies p_hat (counts / n, independent samples) agree with
    exact probabilities, bin by bin, with exact two-sided binomial tests at the Bonferroni
    level alpha / m (m = number of bins).  Unlike a z-score this is exact for rare bins, and a
    bin of probability zero must be empty.

    Parameters
    ----------
    p_hat, p_exact : array_like of the same shape; n : number of samples.
    alpha : family-wise false-alarm probability; name : label for the message.

    Raises
    ------
    AssertionError naming the worst bin, its count and p-value.
    """
    p_hat, p_exact = np.broadcast_arrays(np.asarray(p_hat, float), np.asarray(p_exact, float))
    k = np.rint(p_hat * n)
    if not np.allclose(k, p_hat * n, atol=1e-6):
        raise ValueError("p_hat * n must be whole counts")
    p = np.clip(p_exact, 0.0, 1.0)
    pval = np.minimum(1.0, 2 * np.minimum(stats.binom.cdf(k, n, p), stats.binom.sf(k - 1, n, p)))
    m = p_hat.size
    j = int(np.argmin(pval))
    if pval.flat[j] < alpha / m:
        raise AssertionError(f"{name}[{j}]: {int(k.flat[j])} of {n} samples, expected "
                             f"{n * p.flat[j]:.4g}; binomial p-value {pval.flat[j]:.3g} < "
                             f"alpha / m = {alpha:g} / {m}")


def assert_stderr_scaling(se_small, se_big, n_small: int, n_big: int, rtol: float = 0.1) -> float:
    """Assert that standard errors shrink like 1/sqrt(N): the median over components of
    se_small / se_big is sqrt(n_big / n_small) within relative tolerance `rtol`.  Complex
    standard errors contribute their real and imaginary parts; zero ones are skipped.

    Returns
    -------
    float : the median ratio.
    """
    a, b = (np.asarray(x) for x in (se_small, se_big))
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        a = np.concatenate([np.real(a).ravel(), np.imag(a).ravel()])
        b = np.concatenate([np.real(b).ravel(), np.imag(b).ravel()])
    a, b = a.ravel(), b.ravel()
    keep = (a > 0) & (b > 0)
    if not np.any(keep):
        raise AssertionError("no nonzero standard errors to compare")
    ratio = float(np.median(a[keep] / b[keep]))
    expected = np.sqrt(n_big / n_small)
    if not abs(ratio / expected - 1) < rtol:
        raise AssertionError(f"stderr ratio {ratio:.3f} for N = {n_small} -> {n_big}; "
                             f"1/sqrt(N) scaling expects {expected:.3f} (rtol {rtol})")
    return ratio
