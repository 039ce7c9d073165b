"""Long runs: stop on a target error, checkpoint, and resume to the same numbers.

Every stochastic solver takes the same run options (`qtraj.ensemble.RunOptions`): `ntraj` is
the maximum, `target_stderr` / `target_rel_stderr` / `timeout` stop earlier, `out=DIR` keeps a
checkpoint and the result file, and `resume=True` continues an interrupted run.
"""

import numpy as np

import qtraj as qt
from qtraj import operators as op

L = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 0.5),
                                     qt.Channel(op.sigma_plus(), 0.2)])
times = np.linspace(0.0, 5.0, 11)
run = dict(seed=7, e_ops=[op.number_op()], store_states=False, progress=False)

# stop as soon as every standard error of <n> is below 0.01 (at most 10^6 trajectories)
res = qt.mcsolve(L, op.basis(2, 1), times, ntraj=10**6, target_stderr=0.01, out="run_dir", **run)
print(res.meta["stop_reason"], "after", res.ntraj, "trajectories; largest stderr",
      res.expect_stderr.max())

# the same command with resume=True returns the finished run (no work), bit for bit
again = qt.mcsolve(L, op.basis(2, 1), times, ntraj=10**6, target_stderr=0.01, out="run_dir",
                   resume=True, **run)
print("resumed result identical:", np.array_equal(again.expect, res.expect))

# a stricter target continues from the checkpoint and equals an uninterrupted run
tighter = qt.mcsolve(L, op.basis(2, 1), times, ntraj=10**6, target_stderr=0.007,
                     out="run_dir", resume=True, **run)
fresh = qt.mcsolve(L, op.basis(2, 1), times, ntraj=10**6, target_stderr=0.007, **run)
print(tighter.ntraj, "trajectories; same as an uninterrupted run:",
      np.array_equal(tighter.expect, fresh.expect))
print("saved:", qt.load("run_dir").meta["stop_reason"])
