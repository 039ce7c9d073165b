"""Collision-kernel throughput: collisions per second of the harvesting scheme, shot by shot.

    python benchmarks/bench_collisions.py [--collisions 2e7] [--jobs 2]

1. Pure-state harvesting kernel on one core (one Numba call per block of whole trajectories,
   no joblib): the per-collision cost (draw a pair eigenstate, 2x2 conditional maps of the
   3-qubit collision, Born outcome, two-point energy, exponential waiting time).
2. The same through `simulate` with n_jobs = 1 and n_jobs = 2 (loky processes and threads;
   kernels release the GIL): parallel scaling.
3. For reference: the density-matrix method, and a damped qubit (own bath, quantum jumps with
   exact jump times competing with arrivals) through the generic path.
Target: >= 5e6 collisions/s on one core for (1).  Wall-clock figures depend on machine
load (the load average is printed); "per CPU-second" uses the thread's CPU time and is the
load-independent single-core figure.  Parallel speed-up is only meaningful on idle cores.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.linalg as sla

import qtraj as qt
from qtraj import operators as op
from qtraj.collisions import CollisionModel
from qtraj.models.harvest import HarvestScheme, pair_state_from_bath


def _kernel_rate(model, method, t_end, ntraj, repeats=3):
    """Collisions/s of run_block on one core (best of `repeats`)."""
    job, _, _ = model._job(op.basis(model.dim, 0), [0.0, t_end], 0, method)
    job.run_block(0, 2)                                   # compile / load cache
    best, best_cpu, ncoll = 0.0, 0.0, 0
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.thread_time()
        out = job.run_block(0, ntraj)
        dt, dc = time.perf_counter() - t0, time.thread_time() - c0
        ncoll = int(round(out["rec"].mean[0, -1] * ntraj))
        best, best_cpu = max(best, ncoll / dt), max(best_cpu, ncoll / max(dc, 1e-9))
    return best, best_cpu, ncoll


def _simulate_rate(model, t_end, ntraj, **kw):
    """(collisions/s wall, wall time, cores used = process CPU time / wall; the latter is
    meaningful for in-process backends only)."""
    c0 = time.process_time()
    res = model.simulate(op.basis(model.dim, 0), [0.0, t_end], ntraj, seed=1, progress=False,
                         **kw)
    cores = (time.process_time() - c0) / res.meta["wall_time"]
    ncoll = res["collisions"] * ntraj
    return ncoll / res.meta["wall_time"], res.meta["wall_time"], cores


def damped_qubit() -> CollisionModel:
    H = 0.5 * op.sigma_z()
    L0 = qt.Lindblad(H, [qt.Channel(op.sigma_minus(), 0.45), qt.Channel(op.sigma_plus(), 0.15)])
    V = op.kron(op.sigma_plus(), op.sigma_minus()) + op.kron(op.sigma_minus(), op.sigma_plus())
    return CollisionModel(L0, np.array([[0.7, 0.2], [0.2, 0.3]]), sla.expm(-0.8j * V), 1.5,
                          ancilla_hamiltonian=0.5 * op.sigma_z())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collisions", type=float, default=2e7, help="collisions per measurement")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    print(f"cpu_count = {os.cpu_count()}, load average = {os.getloadavg()}")

    h = HarvestScheme(pair_state_from_bath(1.0), g_tau=0.5, rate=1.0)
    cm = h.model
    ntraj = 256
    t_end = args.collisions / ntraj / h.rate              # rate 1: t_end collisions/trajectory

    r1, c1, n1 = _kernel_rate(cm, "pure", t_end, ntraj)
    print(f"[1] pure-state harvesting kernel, 1 core: {r1:.3e} collisions/s wall, "
          f"{c1:.3e} per CPU-second ({n1:.2e} collisions; target >= 5e6)")

    # simulate(): one process vs n_jobs workers (warm the workers first)
    big = 4 * ntraj
    t_big = args.collisions / big
    s1, w1, k1 = _simulate_rate(cm, t_big, big, n_jobs=1)
    print(f"[2] simulate n_jobs=1:            {s1:.3e} collisions/s (wall {w1:.2f} s, "
          f"cores used {k1:.2f})")
    for backend in ("loky", "threading"):
        _simulate_rate(cm, t_big / 50, big, n_jobs=args.jobs, backend=backend)   # warm-up
        sj, wj, kj = _simulate_rate(cm, t_big, big, n_jobs=args.jobs, backend=backend)
        used = f", cores used {kj:.2f}" if backend == "threading" else ""
        print(f"    simulate n_jobs={args.jobs} ({backend:9s}): {sj:.3e} collisions/s "
              f"(wall {wj:.2f} s{used}), speed-up {sj / s1:.2f}x")

    rd, cd, nd = _kernel_rate(cm, "density", t_end, ntraj)
    print(f"[3] density-matrix harvesting kernel, 1 core: {rd:.3e} collisions/s wall, "
          f"{cd:.3e} per CPU-second")
    dq = damped_qubit()
    t_dq = args.collisions / 10 / ntraj / dq.rate
    for method in ("pure", "density"):
        rq, cq, nq = _kernel_rate(dq, method, t_dq, ntraj, repeats=2)
        print(f"    damped qubit + ancillas ({method:7s}), 1 core: {rq:.3e} collisions/s wall, "
              f"{cq:.3e} per CPU-second (jumps / exact exp(L0 dt) between arrivals)")


if __name__ == "__main__":
    main()
