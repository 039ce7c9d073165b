"""Ensemble-driver benchmarks: runs that scale and survive.

* memory: peak RSS of a 1e6-trajectory two-atom run vs a 1e4-trajectory run (fresh processes);
* parallel efficiency on 2 cores (loky and threading) for a run of >= 20 s on one core;
* the same run reproduces bitwise for n_jobs = 1 and 2.

    python benchmarks/bench_ensemble.py [--quick]

Writes benchmarks/results/ensemble.json and prints a table.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

CHILD = r"""
import resource, sys, time, numpy as np, qtraj as qt
from qtraj.models import collective
L = collective.lindblad(2, 1.0, 1.0, 1.0)
times = np.linspace(0, 10, 101)
qt.mcsolve(L, collective.ground_state(2), times, 64, seed=1, progress=False)   # compile/load
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
qt.mcsolve(L, collective.ground_state(2), times, int(sys.argv[1]), seed=1, progress=False)
print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - t)
"""


def memory(ntrajs):
    out = {}
    for n in ntrajs:
        r = subprocess.run([sys.executable, "-c", CHILD, str(n)], capture_output=True,
                           text=True, check=True)
        base, peak, wall = map(float, r.stdout.split())
        out[n] = {"rss_before_mib": base, "peak_rss_mib": peak, "wall_s": wall}
    return out


def parallel(seconds):
    import qtraj as qt
    from qtraj.models import collective
    L = collective.lindblad(2, 1.0, 1.0, 1.0)
    times = np.linspace(0, 10, 101)
    psi = collective.ground_state(2)
    qt.mcsolve(L, psi, times, 640, seed=1, progress=False)
    t = time.perf_counter()
    qt.mcsolve(L, psi, times, 20000, seed=1, progress=False)
    rate = 20000 / (time.perf_counter() - t)
    ntraj = int(rate * seconds) // 64 * 64
    res = {"ntraj": ntraj}
    t = time.perf_counter()
    r1 = qt.mcsolve(L, psi, times, ntraj, seed=2, progress=False)
    res["t1_s"] = time.perf_counter() - t
    for backend in ("loky", "threading"):
        qt.mcsolve(L, psi, times, 2560, seed=1, n_jobs=2, backend=backend, progress=False)
        t = time.perf_counter()
        r2 = qt.mcsolve(L, psi, times, ntraj, seed=2, n_jobs=2, backend=backend,
                        progress=False)
        t2 = time.perf_counter() - t
        res[backend] = {"t2_s": t2, "speedup": res["t1_s"] / t2,
                        "efficiency": res["t1_s"] / (2 * t2),
                        "identical": bool(np.array_equal(r1.mean, r2.mean))}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    load0 = os.getloadavg()
    mem = memory([10**3, 10**4] if a.quick else [10**4, 10**6])
    par = parallel(3 if a.quick else 25)
    n_small, n_big = sorted(mem)
    growth = mem[n_big]["peak_rss_mib"] / mem[n_small]["peak_rss_mib"] - 1
    out = {"date": time.strftime("%Y-%m-%d"), "load_before": load0, "load_after": os.getloadavg(),
           "memory": mem, "memory_growth": growth, "parallel": par}
    (HERE / "results").mkdir(exist_ok=True)
    name = "ensemble_quick.json" if a.quick else "ensemble.json"
    (HERE / "results" / name).write_text(json.dumps(out, indent=2))
    print(f"peak RSS: {n_small} traj {mem[n_small]['peak_rss_mib']:.1f} MiB, {n_big} traj "
          f"{mem[n_big]['peak_rss_mib']:.1f} MiB (growth {100 * growth:+.1f} %; target < 20 %)")
    print(f"parallel: 1 core {par['t1_s']:.1f} s for {par['ntraj']} trajectories")
    for b in ("loky", "threading"):
        p = par[b]
        print(f"  {b:9s}: 2 cores {p['t2_s']:.1f} s, speed-up {p['speedup']:.2f}, efficiency "
              f"{100 * p['efficiency']:.0f} % (target >= 85 %), identical: {p['identical']}")
    print(f"load average before {load0}, after {out['load_after']}")


if __name__ == "__main__":
    main()
