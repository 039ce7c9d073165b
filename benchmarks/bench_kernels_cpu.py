"""The four kernels' throughput in CPU time, and qtraj.mcsolve vs qutip.mcsolve, in one run.

    python benchmarks/bench_kernels_cpu.py [--qutip]

Figures are per CPU-second of the calling thread (time.thread_time), best of several
repetitions, so they are far less sensitive than wall-clock times to other processes on the
machine.  To compare two versions of qtraj in one sitting, run this script alternately with
PYTHONPATH pointing at each checkout (the first line of the output names the qtraj it timed):

    for i in 1 2; do PYTHONPATH=../old python benchmarks/bench_kernels_cpu.py --qutip
                     PYTHONPATH=.      python benchmarks/bench_kernels_cpu.py --qutip; done

* mcsolve: N collective atoms (n̄ = 1, γ0 = f0 = 1) from |g...g>, 101 output times in [0, 10],
  four population e_ops, store_states=False, one process (N = 2: 2000 trajectories; N = 7:
  200); with --qutip the same arrays through qutip.mcsolve (Dense layer, serial).
* collisions: the pure-state harvesting kernel (2e7 collisions, one block call).
* machine: the coherence-machine kernel at the Fig. 2 point (4e6 collisions).
"""
import os
import sys
import json
import time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
import qtraj as qt
from qtraj import operators as op
from qtraj.models.harvest import HarvestScheme, pair_state_from_bath
from qtraj.models.machine import FIG2, Machine, atom_state
try:
    from qtraj.models.machine.kernel import make_job
except ImportError:
    from qtraj.machine_kernel import make_job
with_qutip = "--qutip" in sys.argv

def best_cpu(fn, reps=5):
    fn(); b = np.inf
    for _ in range(reps):
        c0 = time.thread_time(); fn(); b = min(b, time.thread_time() - c0)
    return b

def collective(N, nbar=1.0):
    Jm = op.collective(op.sigma_minus(), N); Jp = Jm.conj().T
    H = Jp @ Jm - op.collective(op.number_op(), N)
    return H, [np.sqrt(nbar + 1) * Jm, np.sqrt(nbar) * Jp], qt.Lindblad(H, [qt.Channel(Jm, nbar + 1), qt.Channel(Jp, nbar)])

out = {"qtraj": qt.__file__}
times = np.linspace(0, 10, 101)
for N, ntraj, qn in ((2, 2000, 2000), (7, 200, 40)):
    H, cops, L = collective(N); d = L.dim
    pops = [np.diag(np.eye(d)[i]).astype(complex) for i in range(4)]
    t = best_cpu(lambda: qt.mcsolve(L, op.basis(d, 0), times, ntraj, seed=0, store_states=False,
                                    e_ops=pops, progress=False))
    out[f"mcsolve_N{N}_traj_per_cpu_s"] = ntraj / t
    if with_qutip:
        import qutip
        Hq, cq = qutip.Qobj(H), [qutip.Qobj(c) for c in cops]
        eq = [qutip.Qobj(p) for p in pops]
        psi = qutip.Qobj(op.basis(d, 0))
        f = lambda: qutip.mcsolve(Hq, psi, times, cq, e_ops=eq, ntraj=qn,
                                  options={"store_states": False, "progress_bar": False})
        tq = best_cpu(f, reps=2)
        out[f"qutip_N{N}_traj_per_cpu_s"] = qn / tq
        out[f"ratio_N{N}"] = out[f"mcsolve_N{N}_traj_per_cpu_s"] / out[f"qutip_N{N}_traj_per_cpu_s"]
h = HarvestScheme(pair_state_from_bath(1.0), g_tau=0.5, rate=1.0)
job, _, _ = h.model._job(op.basis(h.model.dim, 0), [0.0, 2e7 / 256], 0, "pure")
t = best_cpu(lambda: job.run_block(0, 256), reps=3)
out["collisions_pure_per_cpu_s"] = 2e7 / t
m = Machine(**FIG2, beta2=0.2 * FIG2["beta1"], rho_a=atom_state(0.75))
mj, _ = make_job(m, 1000000, 0, seed=1)
t = best_cpu(lambda: mj.run_block(0, 4), reps=3)
out["machine_collisions_per_cpu_s"] = 4e6 / t
print(json.dumps(out))
