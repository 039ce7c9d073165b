"""No-jump propagators side by side: eigen-decomposition vs Krylov on the dissipative Ising chain.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_propagators.py N eigen:NTRAJ krylov:NTRAJ ...

Model: N spins (d = 2^N), H = sum_i sz_i sz_{i+1} + 0.7 sum_i sx_i, and on every site sigma^-
at rate 0.3 and sz at rate 0.1; t in [0, 10], 101 output times, one e_op (sz of spin 0), from
all spins down.  Prints trajectories per CPU-second of this thread (mcsolve, one core,
store_states=False) and the propagator that ran.
"""

import sys
import time

import numpy as np
import scipy.sparse as sp

import qtraj as qt
from qtraj import operators as op


def site(o, i, n):
    out = sp.identity(1, format="csr", dtype=complex)
    for j in range(n):
        out = sp.kron(out, sp.csr_matrix(o) if j == i else sp.identity(2, dtype=complex),
                      format="csr")
    return out


def ising(n):
    sz, sx, sm = op.sigma_z(), op.sigma_x(), op.sigma_minus()
    H = sum(site(sz, i, n) @ site(sz, i + 1, n) for i in range(n - 1)) + \
        0.7 * sum(site(sx, i, n) for i in range(n))
    chans = [qt.Channel(site(sm, i, n).toarray(), 0.3) for i in range(n)] + \
        [qt.Channel(site(sz, i, n).toarray(), 0.1) for i in range(n)]
    return qt.Lindblad(H.toarray(), chans), site(sz, 0, n).toarray()


def main(argv):
    n = int(argv[0])
    L, e = ising(n)
    d = 2 ** n
    times = np.linspace(0, 10, 101)
    psi0 = np.zeros(d, complex)
    psi0[0] = 1
    for spec in argv[1:]:
        method, ntraj = spec.split(":")
        ntraj = int(ntraj)
        qt.mcsolve(L, psi0, times[:3], 1, e_ops=[e], store_states=False, method=method,
                   progress=False)                                   # compile / cache
        c0 = time.thread_time()
        r = qt.mcsolve(L, psi0, times, ntraj, seed=1, e_ops=[e], store_states=False,
                       method=method, progress=False)
        rate = ntraj / (time.thread_time() - c0)
        print(f"d = {d}: {method:7s} {rate:10.2f} traj per CPU-second "
              f"(propagator: {r.meta['propagator']})")


if __name__ == "__main__":
    main(sys.argv[1:] or ["7", "eigen:40", "krylov:40"])
