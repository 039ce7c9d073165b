"""Coherence-machine benchmarks (Manzano, Silva & Parrondo 2019): kernel throughput and time to
a 1 % estimate of Cdot_a / phi^2, shot by shot.

    python benchmarks/bench_machine.py            # -> benchmarks/results/machine.json
    python benchmarks/bench_machine.py --quick    # ~1 min -> benchmarks/results/machine_quick.json

1. kernel     collisions/s of the single-machine kernel on one core (MachineJob.run_block in this
              thread, no joblib), at the Fig. 2 point (beta2 = 0.2 beta1, south atom): each
              collision = exponential waiting time, exact no-jump decay and bath jumps of the
              4-level machine, atom drawn from rho_a, 8-dim collision, atom record, Born-rule
              measurement.  Wall and per-CPU-second rates (the latter is load independent);
              bath jumps per collision are reported.  Target: >= 2e6 collisions/s.
              Also with gamma0 = 0.25 (100x more bath jumps, ~0.25 per collision).
2. array      the same for a line of 3 machines (atom passages through machines per second).
3. target     Cdot_a / phi^2 at the Fig. 2 point to 1 % relative standard error on 2 cores:
              Machine.simulate(n_jobs=2, target_rel_stderr=0.01) with a 120 s timeout; records
              collisions used (recorded + burn-in), wall time, estimate, error, z vs exact, and
              the collisions the plain mean of rho_out (no control variate) would need.
4. eq16       machines per second of the deterministic array iteration (array_trajectory).
Wall-clock figures depend on machine load (the load average is recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import date
from pathlib import Path


from qtraj.models.machine import FIG2, Machine, array_trajectory, atom_state, make_job
from qtraj.models.machine.kernel import JUMPS, N_COLL

HERE = Path(__file__).resolve().parent


def fig2_machine() -> Machine:
    return Machine(**FIG2, beta2=0.2 * FIG2["beta1"], rho_a=atom_state(0.75))


def kernel_rate(m: Machine, n_coll: int, n_machines: int = 1, reps: int = 3) -> dict:
    ntraj = 4
    job, _ = make_job(m, n_coll // ntraj, 0, seed=1, n_machines=n_machines)
    make_job(m, 100, 0, seed=1, n_machines=n_machines)[0].run_block(0, 1)   # compile / cache
    best_w = best_c = 0.0
    jumps = 0.0
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.thread_time()
        out = job.run_block(0, ntraj)
        dt, dc = time.perf_counter() - t0, time.thread_time() - c0
        n = float(out["sum"][0, N_COLL] + ntraj * job.centre[N_COLL])
        jumps = float(out["sum"][:, JUMPS].sum()) / n
        best_w, best_c = max(best_w, n / dt), max(best_c, n / max(dc, 1e-9))
    return {"collisions": n_coll, "n_machines": n_machines, "rate_wall": best_w,
            "rate_cpu": best_c, "bath_jumps_per_collision": jumps}


def target_run(m: Machine, rel: float, timeout: float, n_jobs: int, backend: str) -> dict:
    exact = m.coherence_rate() / m.phi ** 2
    m.simulate(20_000, seed=0, ntraj=2, burn_in=10, n_jobs=n_jobs, backend=backend)  # warm
    t0 = time.perf_counter()
    res = m.simulate(2_000_000_000, seed=2024, n_jobs=n_jobs, backend=backend, ntraj=10_000,
                     target_rel_stderr=rel, timeout=timeout, progress=False)
    wall = time.perf_counter() - t0
    est, se = res["coherence_rate"] / m.phi ** 2, res["coherence_rate_stderr"] / m.phi ** 2
    naive_se = res["coherence_rate_naive_stderr"] / m.phi ** 2
    n_rec = res.meta["collisions_recorded"]
    return {"target_rel_stderr": rel, "timeout_s": timeout, "n_jobs": n_jobs,
            "backend": backend, "wall_s": wall, "stop_reason": res.meta["stop_reason"],
            "target_reached": bool(res.meta["target_reached"]),
            "collisions_recorded": n_rec, "collisions_total": res.meta["collisions_total"],
            "trajectories": res.ntraj, "collisions_per_s_wall": res.meta["collisions_total"] / wall,
            "Cdot_over_phi2": est, "stderr": se, "rel_stderr": se / abs(est),
            "exact": exact, "z": (est - exact) / se,
            "naive_stderr": naive_se,
            "variance_gain_control_variate": (naive_se / se) ** 2,
            "collisions_needed_without_control_variate": n_rec * (naive_se / (rel * abs(est))) ** 2}


def eq16_rate(m: Machine, n: int) -> dict:
    array_trajectory(m.rho_a, 10, **m.parameters)
    t0 = time.perf_counter()
    array_trajectory(m.rho_a, n, **m.parameters)
    dt = time.perf_counter() - t0
    return {"machines": n, "seconds": dt, "machines_per_s": n / dt}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--backend", default="threading", help="threading (default) or loky")
    ap.add_argument("--timeout", type=float, default=120.0)
    a = ap.parse_args(argv)
    m = fig2_machine()
    out = {"date": str(date.today()), "quick": a.quick, "cpu_count": os.cpu_count(),
           "platform": platform.platform(), "python": platform.python_version(),
           "load_average_start": os.getloadavg()}
    n = 5_000_000 if a.quick else 40_000_000
    out["kernel"] = kernel_rate(m, n)
    k = out["kernel"]
    print(f"[1] machine kernel, 1 core: {k['rate_wall']:.3e} collisions/s wall, "
          f"{k['rate_cpu']:.3e} per CPU-second ({k['bath_jumps_per_collision']:.2e} bath jumps "
          f"per collision; target >= 2e6)")
    busy = Machine(**dict(FIG2, gamma0=0.25), beta2=0.2 * FIG2["beta1"], rho_a=atom_state(0.75))
    out["kernel_many_jumps"] = k = kernel_rate(busy, n // 2)
    print(f"    with gamma0 = 0.25: {k['rate_wall']:.3e} collisions/s wall, "
          f"{k['rate_cpu']:.3e} per CPU-second ({k['bath_jumps_per_collision']:.2e} bath jumps "
          f"per collision)")
    out["array3"] = kernel_rate(m, n // 3, n_machines=3)
    k = out["array3"]
    print(f"[2] line of 3 machines, 1 core: {3 * k['rate_wall']:.3e} machine passages/s wall, "
          f"{3 * k['rate_cpu']:.3e} per CPU-second")
    rel = 0.03 if a.quick else 0.01
    out["target"] = t = target_run(m, rel, a.timeout, a.jobs, a.backend)
    print(f"[3] Cdot_a/phi^2 = {t['Cdot_over_phi2']:.4f} +- {t['stderr']:.4f} "
          f"({100 * t['rel_stderr']:.2f} %, exact {t['exact']:.4f}, z = {t['z']:.2f}) with "
          f"{t['collisions_recorded']:.3e} recorded ({t['collisions_total']:.3e} total) "
          f"collisions in {t['wall_s']:.1f} s on {a.jobs} cores ({a.backend}); stopped by "
          f"{t['stop_reason']}.  Without the control variate: "
          f"{t['collisions_needed_without_control_variate']:.2e} collisions "
          f"(variance x {t['variance_gain_control_variate']:.0f}).")
    out["eq16"] = e = eq16_rate(m, 20_000 if a.quick else 100_000)
    print(f"[4] Eq. (16) iteration: {e['machines_per_s']:.3e} machines/s")
    out["load_average_end"] = os.getloadavg()
    path = a.out or HERE / "results" / ("machine_quick.json" if a.quick else "machine.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=float))
    print(f"written {path}")
    return out


if __name__ == "__main__":
    main()
