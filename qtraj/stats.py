"""Streaming statistics: per-block (n, mean, M2) accumulators merged in a fixed order.

Complex quantities carry the statistics of their real and imaginary parts side by side:
`m2.real` is the sum of squared deviations of the real parts, `m2.imag` that of the imaginary
parts, and `stderr` is returned the same way (real part = standard error of Re, imaginary part
= standard error of Im).

Blocks are merged with Chan et al.'s pairwise update, always in block-index order, so a result
does not depend on how blocks were spread over workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Moments", "zscore", "batch_means", "count_mean_stderr", "largest_stderr",
           "shifted_moments"]


def _sq(x):
    """Componentwise square: Re(x)^2 + i Im(x)^2 for complex x."""
    if np.iscomplexobj(x):
        return x.real ** 2 + 1j * x.imag ** 2
    return x * x


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of a (possibly array-valued) sample."""

    n: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty_like(cls, x: np.ndarray) -> "Moments":
        return cls(0, np.zeros_like(x), np.zeros_like(x))

    def merge(self, other: "Moments") -> "Moments":
        """Combine with a later block (in place; returns self)."""
        if other.n == 0:
            return self
        if self.n == 0:
            self.n, self.mean, self.m2 = other.n, other.mean.copy(), other.m2.copy()
            return self
        n = self.n + other.n
        delta = other.mean - self.mean
        self.mean = self.mean + delta * (other.n / n)
        self.m2 = self.m2 + other.m2 + _sq(delta) * (self.n * other.n / n)
        self.n = n
        return self

    @property
    def variance(self) -> np.ndarray:
        if self.n < 2:
            return np.full_like(self.m2, np.nan)
        m2 = self.m2
        if np.iscomplexobj(m2):
            return np.maximum(m2.real, 0) / (self.n - 1) + 1j * np.maximum(m2.imag, 0) / (self.n - 1)
        return np.maximum(m2, 0) / (self.n - 1)

    @property
    def stderr(self) -> np.ndarray:
        v = self.variance / max(self.n, 1)
        if np.iscomplexobj(v):
            return np.sqrt(v.real) + 1j * np.sqrt(v.imag)
        return np.sqrt(v)


def shifted_moments(n: int, s: np.ndarray, q: np.ndarray, k: np.ndarray) -> Moments:
    """Moments of n samples from their shifted sums: s = sum (x - k), q = sum of the
    componentwise squares (x - k)^2 (real and imaginary parts separately), k the shift.

    Parameters
    ----------
    n : int, number of samples
    s, q, k : arrays of one shape (real or complex)

    Returns
    -------
    Moments

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 4.0])
    >>> m = shifted_moments(3, (x - 1).sum(), ((x - 1) ** 2).sum(), 1.0)
    >>> float(m.mean), float(m.m2)
    (2.3333333333333335, 4.666666666666667)
    """
    mean_shift = s / n
    if np.iscomplexobj(q):
        m2 = q - (mean_shift.real ** 2 + 1j * mean_shift.imag ** 2) * n
    else:
        m2 = q - mean_shift * mean_shift * n
    return Moments(n, k + mean_shift, m2)


def count_mean_stderr(counts: np.ndarray, counts_sq: np.ndarray, n: int):
    """Mean and standard error of per-trajectory integer counts from their exact sums."""
    c = np.asarray(counts, dtype=float)
    var = (np.asarray(counts_sq) - c ** 2 / n) / max(n - 1, 1)
    return c / n, np.sqrt(np.maximum(var, 0) / n)


def largest_stderr(m: "Moments | None") -> float:
    """Largest standard error (of Re or Im) of a running estimate; inf before two samples
    (the quantity a target_stderr stopping rule compares with its target)."""
    if m is None or m.n < 2:
        return np.inf
    se = m.stderr
    return float(max(np.max(np.real(se)), np.max(np.imag(se))))


def zscore(estimate, stderr, exact, floor: float = 1e-12) -> np.ndarray:
    """(estimate - exact) / stderr, componentwise for complex numbers (max of |z_re|, |z_im|).

    `floor` keeps deterministic components (stderr = 0, estimate = exact up to rounding) at z = 0.
    """
    est, se, ex = np.asarray(estimate), np.asarray(stderr), np.asarray(exact)
    if np.iscomplexobj(est) or np.iscomplexobj(ex):
        zr = (est.real - ex.real) / np.maximum(np.real(se), floor)
        zi = (est.imag - ex.imag) / np.maximum(np.imag(se), floor)
        return np.where(np.abs(zr) >= np.abs(zi), zr, zi)
    return (est - ex) / np.maximum(se, floor)


def batch_means(x: np.ndarray, n_batches: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Mean and batch-means standard error of a correlated series x (first axis = time)."""
    x = np.asarray(x)
    nb = min(n_batches, x.shape[0])
    if nb < 2:
        raise ValueError("batch_means needs at least 2 samples")
    m = x.shape[0] // nb
    b = x[: m * nb].reshape((nb, m) + x.shape[1:]).mean(axis=1)
    mean = x[: m * nb].mean(axis=0)
    if np.iscomplexobj(b):
        se = b.real.std(axis=0, ddof=1) / np.sqrt(nb) + 1j * b.imag.std(axis=0, ddof=1) / np.sqrt(nb)
    else:
        se = b.std(axis=0, ddof=1) / np.sqrt(nb)
    return mean, se
