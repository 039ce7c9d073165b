"""Counter-based seeding and a xoshiro256** generator usable inside Numba kernels.

Trajectory i of a run seeded with `seed` draws from its own xoshiro256** stream whose state is
derived from (key, i), with key = SeedSequence(seed).generate_state(4, uint64).  The stream of a
trajectory therefore depends only on the seed and its index: results are identical for any
n_jobs, batch size or backend.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

__all__ = ["root_key", "stream_state", "seed_stream", "next_double", "next_exponential",
           "seed_info"]

_GOLDEN = uint64(0x9E3779B97F4A7C15)
_M1 = uint64(0xBF58476D1CE4E5B9)
_M2 = uint64(0x94D049BB133111EB)


def root_key(seed) -> tuple[np.random.SeedSequence, np.ndarray]:
    """SeedSequence and the (4,) uint64 key of a run.  seed: int, SeedSequence or None."""
    if isinstance(seed, np.random.SeedSequence):
        ss = seed
    elif seed is None:
        ss = np.random.SeedSequence()
    else:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer or a SeedSequence, got {seed!r}")
        ss = np.random.SeedSequence(int(seed))
    return ss, ss.generate_state(4, np.uint64)


def seed_info(ss: np.random.SeedSequence) -> dict:
    """JSON-friendly record of a SeedSequence (entropy and spawn key)."""
    ent = ss.entropy
    return {"entropy": int(ent) if not isinstance(ent, (list, tuple, np.ndarray)) else
            [int(e) for e in ent], "spawn_key": [int(k) for k in ss.spawn_key]}


@njit(cache=True, nogil=True, inline="always")
def _mix(z):
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(cache=True, nogil=True, inline="always")
def seed_stream(key, index, s):
    """Set s (a (4,) uint64 array) to the xoshiro256** state of stream `index` under `key`
    (SplitMix64 finaliser mixing); allocates nothing."""
    idx = uint64(index)
    for j in range(4):
        s[j] = _mix(key[j] ^ _mix(idx * _GOLDEN + uint64(j + 1) * _M1))
    if s[0] == 0 and s[1] == 0 and s[2] == 0 and s[3] == 0:
        s[0] = _GOLDEN


@njit(cache=True, nogil=True)
def stream_state(key, index):
    """A new (4,) uint64 xoshiro256** state of stream `index` under `key` (see seed_stream)."""
    s = np.empty(4, dtype=np.uint64)
    seed_stream(key, index, s)
    return s


@njit(cache=True, nogil=True, inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True, nogil=True, inline="always")
def next_double(s):
    """Uniform double in [0, 1) (53 random bits); advances the state `s` in place."""
    result = _rotl(s[1] * uint64(5), 7) * uint64(9)
    t = s[1] << uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return float(result >> uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline="always")
def next_open(s):
    """Uniform double in (0, 1]."""
    return 1.0 - next_double(s)


@njit(cache=True, nogil=True, inline="always")
def next_exponential(s, rate):
    """Exponential waiting time with the given rate (inf if rate == 0)."""
    if rate <= 0.0:
        return np.inf
    return -np.log(next_open(s)) / rate
