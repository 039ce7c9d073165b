#!/usr/bin/env python
"""Benchmark qtraj.spectrum against qutip.spectrum (QuTiP 5) on a driven Jaynes-Cummings model.

    python benchmarks/bench_spectrum.py          # cutoff 30, 400 omegas -> results/spectrum.json
    python benchmarks/bench_spectrum.py --quick  # cutoff 10, 100 omegas -> results/spectrum_quick.json

Model (numpy arrays handed to both codes): atom (x) mode with `cutoff` Fock states,
H = dc a^dag a + da s^+ s^- + g (a^dag s^- + a s^+) + E (a + a^dag) (driven cavity, rotating
frame), collapse operators sqrt(kappa) a and sqrt(gamma) s^-; dc = 0.2, da = 0, g = 1, E = 0.5,
kappa = 0.5, gamma = 0.1.  Spectrum of the cavity light: A = a^dag, B = a on
omega in [-3, 3].

Timed: qtraj.spectrum (resolvent, bordered sparse LU per frequency; includes the steady
state) and qutip.spectrum with solver="es" (its default: eigen-decomposition of the
Liouvillian); --solvers es,solve adds QuTiP's per-frequency solve, which multiplies by a dense
projector Q = 1 - P and was stopped after 8 minutes at cutoff 30 (it is timed in --quick).  Best of --reps; the JSON also holds the largest
difference between the codes' spectra, the load average and versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="cutoff 10, 100 frequencies")
    p.add_argument("--cutoff", type=int, default=None, help="Fock states of the mode")
    p.add_argument("--n-omega", type=int, default=None, help="number of frequencies")
    p.add_argument("--reps", type=int, default=1, help="timing repetitions (best reported)")
    p.add_argument("--blas-threads", type=int, default=1,
                   help="BLAS threads (0 = leave the environment alone)")
    p.add_argument("--solvers", default="es",
                   help="QuTiP solvers to time, comma separated: es (default), solve, pi "
                        "(solve/pi work with a dense projector: impractical at cutoff 30)")
    p.add_argument("--out", type=Path, default=None)
    return p.parse_args(argv)


def main(argv=None):
    a = _args(argv)
    if a.blas_threads:
        for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[v] = str(a.blas_threads)
    sys.path.insert(0, str(HERE.parent))
    import numpy as np
    import qtraj as qt
    from qtraj import operators as op
    import qutip

    N = a.cutoff or (10 if a.quick else 30)
    nw = a.n_omega or (100 if a.quick else 400)
    am = np.kron(np.eye(2), op.destroy(N))
    sm = np.kron(op.sigma_minus(), np.eye(N))
    ad = am.conj().T
    H = 0.2 * ad @ am + (ad @ sm + sm.conj().T @ am) + 0.5 * (am + ad)
    L = qt.Lindblad(H, [qt.Channel(am, 0.5), qt.Channel(sm, 0.1)])
    w = np.linspace(-3, 3, nw)
    Hq, cq = qutip.Qobj(H), [qutip.Qobj(np.sqrt(0.5) * am), qutip.Qobj(np.sqrt(0.1) * sm)]

    def best(f):
        ts, out = [], None
        for _ in range(a.reps):
            t0 = time.perf_counter()
            out = f()
            ts.append(time.perf_counter() - t0)
        return min(ts), ts, out

    res = {"cutoff": N, "n_omega": nw, "liouville_dim": (2 * N) ** 2}
    t, ts, S = best(lambda: qt.spectrum(L, w, ad, am))
    res["qtraj"] = {"seconds": t, "all": ts, "coherent_weight": float(np.real(S.coherent))}
    print(f"qtraj.spectrum          cutoff {N}, {nw} omegas: {t:8.2f} s")
    for solver in [s for s in a.solvers.split(",") if s]:
        t, ts, Sq = best(lambda: qutip.spectrum(Hq, w, cq, qutip.Qobj(ad), qutip.Qobj(am),
                                                solver=solver))
        diff = float(np.max(np.abs(Sq - S.incoherent)))
        res[f"qutip_{solver}"] = {"seconds": t, "all": ts, "max_abs_diff": diff,
                                  "max_abs_spectrum": float(np.max(np.abs(Sq)))}
        print(f"qutip.spectrum({solver:5s})  cutoff {N}, {nw} omegas: {t:8.2f} s   "
              f"max |difference| {diff:.2e}")
    res.update(date=str(date.today()), loadavg=os.getloadavg(), python=platform.python_version(),
               numpy=np.__version__, qutip=qutip.__version__, blas_threads=a.blas_threads,
               machine=platform.machine())
    out = a.out or HERE / "results" / ("spectrum_quick.json" if a.quick else "spectrum.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(out)
    return res


if __name__ == "__main__":
    main()
