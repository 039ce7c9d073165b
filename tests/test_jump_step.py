"""One jump step under every stochastic solver, checked jump by jump against `qt.mcsolve`.

Every kernel advances its kets only through `qtraj._kernels.step.jump_step`.  Here:

* the protocol kernel, on a one-segment protocol of a model, records exactly the jumps that
  `mcsolve` records for that model from the same seed (same trajectories, channels, times);
* the inputs that the collision and machine solvers build for their system's jumps are the
  ones `mcsolve` builds for the same model, and the shared jump step driven with them
  reproduces `mcsolve`'s recorded jumps one by one.
"""

import numpy as np
from numba import njit

import qtraj as qt
from helpers import random_lindblad, random_state, random_unitary
from qtraj import kernel_inputs as ki
from qtraj._kernels.primitives import draw_initial
from qtraj._kernels.step import jump_step, ket_to_coefficients, settle
from qtraj.models.machine import FIG2, Machine, atom_state, make_job
from qtraj.protocols import Protocol
from qtraj.rng import next_open, root_key, seed_stream

T_END = 2.5
NTRAJ = 40


@njit(cache=True)
def _jumps_of(prop, chans, init, ket, key, times, ntraj, out_traj, out_chan, out_time):
    """The jumps of trajectories 0..ntraj-1 as mcsolve's kernel takes them (the same draws,
    the same renormalisation at each output time); returns their number."""
    n = 0
    for traj in range(ntraj):
        seed_stream(key, traj, ket.stream)
        draw_initial(init, ket.stream, ket.psi)
        ket_to_coefficients(prop, 0, ket.psi, ket.c)
        tref = times[0]
        r = next_open(ket.stream)
        for it in range(times.shape[0]):
            while True:
                k, t, nrm, r, q = jump_step(prop, chans, int(0), ket.stream, ket, tref, r,
                                            times[it], ket.no_factors, int(-1))
                if k < 0:
                    break
                out_traj[n] = traj
                out_chan[n] = k
                out_time[n] = t
                n += 1
                tref = t
            r = settle(prop, chans, 0, ket, nrm, r, False)
            tref = times[it]
    return n


def _drive(prop, chans, init, seed, times):
    _, key = root_key(seed)
    cap = 100000
    tr, ch, tm = np.zeros(cap, np.int64), np.zeros(cap, np.int64), np.zeros(cap)
    ket = ki.ket_scratch(prop, chans)
    n = _jumps_of(prop, chans, init, ket, key, np.asarray(times, float), NTRAJ, tr, ch, tm)
    return tr[:n], ch[:n], tm[:n]


def _mcsolve_jumps(model, rho0, seed):
    res = qt.mcsolve(model, rho0, [0.0, T_END], NTRAJ, seed=seed, keep_jumps=True,
                     store_states=False, progress=False)
    return res["jump_traj"], res["jump_channel"], res["jump_time"]


def _same_jumps(a, b):
    assert len(a[0]) == len(b[0]) > 20
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    np.testing.assert_allclose(a[2], b[2], rtol=1e-12, atol=1e-12)


def _same_structs(x, y):
    """Two named tuples (possibly nested) hold equal arrays."""
    assert type(x) is type(y)
    for a, b in zip(x, y):
        if isinstance(a, tuple):
            _same_structs(a, b)
        else:
            assert np.array_equal(a, b)


def test_protocol_kernel_takes_the_jumps_of_mcsolve():
    model = random_lindblad(3, 3, seed=4)
    rho0 = random_state(3, 5)
    res = Protocol([(T_END, model)]).simulate(1, NTRAJ, state0=rho0, seed=8, keep_jumps=True,
                                              store_states=False, progress=False)
    _same_jumps((res["jump_traj"], res["jump_channel"], res["jump_time"]),
                _mcsolve_jumps(model, rho0, 8))


def test_mcsolve_jumps_are_those_of_the_shared_step():
    model = random_lindblad(4, 3, seed=2)
    rho0 = random_state(4, 3)
    prop, chans = ki.propagators_of([model]), ki.channels([model])
    _same_jumps(_drive(prop, chans, ki.mixture(rho0), 6, [0.0, T_END]),
                _mcsolve_jumps(model, rho0, 6))


def test_collision_system_jumps_use_the_inputs_and_step_of_mcsolve():
    model = random_lindblad(2, 2, seed=3)
    rho0 = random_state(2, 1)
    cm = qt.CollisionModel(model, random_state(2, 2), random_unitary(4, 4), 0.7)
    job, _, _ = cm._job(rho0, [0.0, T_END], 0, "pure")
    _same_structs(job.propagators, ki.propagators_of([model]))
    _same_structs(job.channels, ki.channels([model]))
    _same_jumps(_drive(job.propagators, job.channels, job.initial, 9, [0.0, T_END]),
                _mcsolve_jumps(model, rho0, 9))


def test_machine_bath_jumps_use_the_inputs_and_step_of_mcsolve():
    m = Machine(**dict(FIG2, gamma0=0.3), beta2=0.24, rho_a=atom_state(0.75))
    job, _ = make_job(m, n_rec=10, n_burn=0)
    model = m.lindblad
    _same_structs(job.propagators, ki.propagators_of([model]))
    _same_structs(job.channels, ki.channels([model]))
    rho0 = random_state(4, 7)
    _same_jumps(_drive(job.propagators, job.channels, ki.mixture(rho0), 2, [0.0, T_END]),
                _mcsolve_jumps(model, rho0, 2))
