#!/usr/bin/env python
"""Benchmark qtraj.mcsolve against qutip.mcsolve (QuTiP 5) on collective-atom models.

    python benchmarks/bench_mcsolve.py            # full run  -> benchmarks/results/mcsolve.json
    python benchmarks/bench_mcsolve.py --quick    # ~1 min    -> benchmarks/results/mcsolve_quick.json

Model (built once as numpy arrays in qtraj's basis, index 0 = ground, and handed to both codes):
N collective atoms, J^- = qtraj.operators.collective(sigma_minus(), N),
H = f0 (J^+ J^- - sum_i sigma_i^+ sigma_i^-), collapse operators sqrt(gamma0 (nbar+1)) J^-,
sqrt(gamma0 nbar) J^+, with nbar = 1, gamma0 = f0 = 1, initial state |g...g>, 101 output times
on [0, 10], e_ops = projectors on the first four basis states.

Sections (all in this one run, on the same machine):
  speed        trajectories/s of qtraj (single core, n_jobs=1) and qutip.mcsolve (serial map,
               default options + store_states=False, progress_bar=False), best of --reps;
               qutip is run with the operators as built from the numpy arrays (Dense data
               layer) and, as a supplement, converted to CSR (the layer QuTiP's own operator
               constructors produce).
  agreement    final-time populations (pooled over the timing repetitions) of both codes and
               of a deterministic master-equation solution, with z-scores.
  profile      where qtraj's time goes: with/without e_ops, store_states, 2 output times
               (jump cost), the bare Numba kernel, per-call overhead.
  memory       peak RSS (ru_maxrss) of fresh subprocesses running 1e3 vs 1e5 trajectories.
  compile      first call in a fresh subprocess with a warm Numba cache and with an empty cache
               (NUMBA_CACHE_DIR = new temporary directory), and warm-call times.
  parallel     2-core efficiency t1 / (2 t2) of n_jobs=2 (loky) for a run of >= 20 s on 1 core.

BLAS threads are limited to --blas-threads (default 1) for the whole run, so that "single core"
holds for both codes (QuTiP's Dense layer calls BLAS; with OpenBLAS threads on a busy 2-core
machine it can slow down by orders of magnitude).  A supplementary subprocess measures QuTiP
(Dense, N = 7) with the BLAS threading left at its default.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    p.add_argument("--out", type=Path, default=None, help="JSON output path")
    p.add_argument("--reps", type=int, default=3, help="timing repetitions (best is reported)")
    p.add_argument("--blas-threads", type=int, default=1,
                   help="BLAS threads for this run (0 = leave the environment alone)")
    p.add_argument("--parallel-seconds", type=float, default=None,
                   help="target single-core duration of the parallel-efficiency run")
    p.add_argument("--sections", type=str, default="all",
                   help="comma list of speed (includes agreement), profile, memory, compile, "
                        "parallel, blas; a subset is written to results/mcsolve_<names>.json")
    p.add_argument("--no-snapshot", action="store_true",
                   help="benchmark the live qtraj source tree instead of a frozen copy")
    p.add_argument("--child", type=str, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.child is None and ARGS.blas_threads > 0:
    for _v in BLAS_VARS:           # must happen before numpy is imported
        os.environ[_v] = str(ARGS.blas_threads)

import numpy as np  # noqa: E402

NBAR, GAMMA0, F0 = 1.0, 1.0, 1.0
T_FINAL, N_TIMES = 10.0, 101


# ----------------------------------------------------------------------------- model
def model_arrays(n_atoms: int, nbar: float = NBAR, gamma0: float = GAMMA0, f0: float = F0):
    """(H, [L_1, L_2]) as numpy arrays in qtraj's basis (index 0 = |g...g>)."""
    from qtraj import operators as op
    Jm = op.collective(op.sigma_minus(), n_atoms)
    Jp = Jm.conj().T
    H = f0 * (Jp @ Jm - op.collective(op.number_op(), n_atoms))
    Ls = [np.sqrt(gamma0 * (nbar + 1)) * Jm, np.sqrt(gamma0 * nbar) * Jp]
    return H, Ls


def pop_ops(d: int, n: int = 4) -> list[np.ndarray]:
    """Projectors on the first n basis states."""
    out = []
    for i in range(n):
        P = np.zeros((d, d), complex)
        P[i, i] = 1.0
        out.append(P)
    return out


class Problem:
    """The same model for both codes."""

    def __init__(self, n_atoms: int):
        import qtraj as qt
        self.n = n_atoms
        self.d = 2 ** n_atoms
        self.H, self.Ls = model_arrays(n_atoms)
        self.model = qt.Lindblad(self.H, [qt.Channel(L, 1.0, "thermal") for L in self.Ls])
        self.psi0 = np.zeros(self.d, complex)
        self.psi0[0] = 1.0
        self.times = np.linspace(0.0, T_FINAL, N_TIMES)
        self.eops = pop_ops(self.d)

    def qutip_ops(self, dtype: str | None = None):
        import qutip
        dims = [[2] * self.n, [2] * self.n]
        conv = (lambda q: q) if dtype is None else (lambda q: q.to(dtype))
        H = conv(qutip.Qobj(self.H, dims=dims))
        c = [conv(qutip.Qobj(L, dims=dims)) for L in self.Ls]
        e = [conv(qutip.Qobj(P, dims=dims)) for P in self.eops]
        psi0 = qutip.Qobj(self.psi0.reshape(-1, 1), dims=[[2] * self.n, [1] * self.n])
        return H, c, e, psi0

    # -- runners: return (wall seconds, result object[, qutip data layer])
    def run_qtraj(self, ntraj: int, seed: int = 0, n_jobs: int = 1, e_ops=True,
                  store_states=False, times=None, batch_size=None):
        import qtraj as qt
        kw = {} if batch_size is None else {"batch_size": batch_size}
        t0 = time.perf_counter()
        r = qt.mcsolve(self.model, self.psi0, self.times if times is None else times, ntraj,
                       seed=seed, n_jobs=n_jobs, store_states=store_states,
                       e_ops=self.eops if e_ops else None, progress=False, **kw)
        wall = time.perf_counter() - t0
        return wall, r

    def run_qutip(self, ntraj: int, seed: int = 0, dtype: str | None = None):
        import qutip
        H, c, e, psi0 = self.qutip_ops(dtype)
        t0 = time.perf_counter()
        r = qutip.mcsolve(H, psi0, self.times, c, e_ops=e, ntraj=ntraj, seeds=seed,
                          options={"store_states": False, "progress_bar": False})
        wall = time.perf_counter() - t0
        return wall, r, type(H.data).__name__


def _final_stats_qtraj(r):
    n = r.ntraj
    mean = np.asarray(r.expect)[:, -1].real
    se = np.asarray(r.expect_stderr)[:, -1].real
    var0 = se ** 2 * n * (n - 1) / n          # ddof=1 variance -> ddof=0
    return mean, np.sqrt(var0), n


def _final_stats_qutip(r):
    n = r.num_trajectories
    mean = np.array([np.real(x[-1]) for x in r.expect])
    std0 = np.array([np.real(x[-1]) for x in r.std_expect])   # QuTiP: population std
    return mean, std0, n


def pool(stats):
    """Pool (mean, std ddof=0, n) of independent runs -> (mean, stderr, n)."""
    n = sum(s[2] for s in stats)
    mean = sum(s[2] * s[0] for s in stats) / n
    m2 = sum(s[2] * (s[1] ** 2 + s[0] ** 2) for s in stats) / n
    var0 = np.maximum(m2 - mean ** 2, 0.0)
    return mean, np.sqrt(var0 / max(n - 1, 1)), n


# ----------------------------------------------------------------------------- utilities
def log(*a):
    print(*a, file=sys.stderr, flush=True)


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count()}
    try:
        txt = Path("/proc/cpuinfo").read_text()
        models = [ln.split(":", 1)[1].strip() for ln in txt.splitlines()
                  if ln.startswith("model name")]
        mhz = [ln.split(":", 1)[1].strip() for ln in txt.splitlines() if ln.startswith("cpu MHz")]
        cache = [ln.split(":", 1)[1].strip() for ln in txt.splitlines()
                 if ln.startswith("cache size")]
        flags = next((ln for ln in txt.splitlines() if ln.startswith("flags")), "")
        info.update(cpu_model=models[0] if models else None, logical_cpus=len(models),
                    cpu_mhz=mhz[0] if mhz else None, cache=cache[0] if cache else None,
                    avx512="avx512f" in flags, avx2="avx2" in flags,
                    hypervisor="hypervisor" in flags)
    except OSError:
        pass
    try:
        import psutil
        info["memory_gib"] = round(psutil.virtual_memory().total / 2 ** 30, 1)
    except ImportError:
        pass
    return info


def versions() -> dict:
    import numba
    import scipy
    import qutip
    import joblib
    import qtraj
    return {"qtraj": qtraj.__version__, "qutip": qutip.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "numba": numba.__version__, "joblib": joblib.__version__,
            "python": platform.python_version()}


def source_hashes() -> dict:
    """sha256 (first 16 hex digits) of the qtraj modules the benchmark exercises."""
    import hashlib
    import qtraj
    root = Path(qtraj.__file__).parent
    out = {name: hashlib.sha256((root / name).read_bytes()).hexdigest()[:16]
           for name in ("jumps.py", "ensemble.py", "stats.py", "rng.py", "lindblad.py")
           if (root / name).exists()}
    out["_dir"] = str(root)
    return out


def _worker_qtraj_dir(_=None) -> str:
    import qtraj
    return str(Path(qtraj.__file__).parent)


def _tree_hash(root: Path) -> str:
    import hashlib
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def make_snapshot() -> dict:
    """Freeze the qtraj package: copy it to a temporary directory and put that first on the
    path of this process and of every child / worker process (PYTHONPATH), so that edits to
    the working tree during the run cannot mix versions.  Must run before qtraj is imported."""
    import importlib.util
    import shutil
    src = Path(importlib.util.find_spec("qtraj").origin).parent
    for _ in range(20):
        before = _tree_hash(src)
        tmp = Path(tempfile.mkdtemp(prefix="qtraj_bench_snapshot_"))
        shutil.copytree(src, tmp / "qtraj", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if _tree_hash(src) == before == _tree_hash(tmp / "qtraj"):
            sys.path.insert(0, str(tmp))
            os.environ["PYTHONPATH"] = os.pathsep.join(
                [str(tmp)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
            return {"source": str(src), "copy": str(tmp / "qtraj"), "tree_sha256": before,
                    "copied_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        shutil.rmtree(tmp, ignore_errors=True)
        time.sleep(3)
    raise RuntimeError("the qtraj source tree keeps changing; cannot take a consistent snapshot")


def run_child(spec: dict, env: dict | None = None, timeout: float = 1800) -> dict:
    """Run this script in a fresh interpreter in child mode; return its JSON answer."""
    full_env = dict(os.environ)
    if env:
        for k, v in env.items():
            if v is None:
                full_env.pop(k, None)
            else:
                full_env[k] = v
    # Through a small shell that *forks* the interpreter: Linux carries ru_maxrss over fork
    # and execve, so a child started directly from this (large) process would report at
    # least this process's RSS as its own peak.
    cmd = ["/bin/sh", "-c", '"$@"; exit $?', "sh",
           sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout,
                       cwd=str(HERE.parent))
    if p.returncode != 0:
        raise RuntimeError(f"child {spec} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- child modes
def child_main(spec: dict) -> dict:
    out = _child_main(spec)
    out["qtraj_source_sha256"] = source_hashes()
    return out


def _child_main(spec: dict) -> dict:
    mode = spec["mode"]
    if mode == "memory":
        import resource
        import psutil
        proc = psutil.Process()
        t0 = time.perf_counter()
        prob = Problem(spec["n_atoms"])
        prob.run_qtraj(8, store_states=spec["store_states"])      # load kernels
        before_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rss_before = proc.memory_info().rss
        wall, r = prob.run_qtraj(spec["ntraj"], store_states=spec["store_states"],
                                 batch_size=spec.get("batch_size"))
        after_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        hwm = next((int(ln.split()[1]) for ln in Path("/proc/self/status").read_text()
                    .splitlines() if ln.startswith("VmHWM")), None)
        return {"n_atoms": spec["n_atoms"], "ntraj": spec["ntraj"],
                "store_states": spec["store_states"], "batch_size": spec.get("batch_size"),
                "batch_size_used": r.meta.get("batch_size"),
                "maxrss_before_run_mib": before_max / 1024, "maxrss_mib": after_max / 1024,
                "vmhwm_mib": None if hwm is None else hwm / 1024,
                "rss_before_run_mib": rss_before / 2 ** 20,
                "rss_after_run_mib": proc.memory_info().rss / 2 ** 20,
                "wall_s": wall, "traj_per_s": spec["ntraj"] / wall,
                "total_s": time.perf_counter() - t0}
    if mode == "compile":
        t0 = time.perf_counter()
        import qtraj  # noqa: F401
        t_import = time.perf_counter() - t0
        prob = Problem(2)
        calls = []
        for _ in range(3):
            calls.append(prob.run_qtraj(spec["ntraj"])[0])
        import numba
        return {"import_s": t_import, "first_call_s": calls[0], "second_call_s": calls[1],
                "third_call_s": calls[2], "ntraj": spec["ntraj"],
                "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR") or "(default: __pycache__)",
                "numba_cache_dir_config": str(numba.config.CACHE_DIR)}
    if mode == "qutip":
        prob = Problem(spec["n_atoms"])
        prob.run_qutip(2, seed=99, dtype=spec.get("dtype"))        # warm-up
        wall, r, dt = prob.run_qutip(spec["ntraj"], seed=spec.get("seed", 0),
                                     dtype=spec.get("dtype"))
        return {"wall_s": wall, "ntraj": spec["ntraj"], "traj_per_s": spec["ntraj"] / wall,
                "data_layer": dt, "blas_env": {v: os.environ.get(v) for v in BLAS_VARS}}
    raise ValueError(mode)


# ----------------------------------------------------------------------------- sections
def section_speed(cfg: dict, reps: int) -> dict:
    """Timing of both codes; also keeps the per-repetition final statistics for agreement."""
    out = {}
    for n_atoms, c in cfg.items():
        prob = Problem(n_atoms)
        res = {"n_atoms": n_atoms, "dim": prob.d, "load_before": loadavg()}
        log(f"[speed] N={n_atoms}: qtraj warm-up")
        prob.run_qtraj(8)
        q_times, q_stats = [], []
        for rep in range(reps):
            wall, r = prob.run_qtraj(c["ntraj_qtraj"], seed=rep)
            q_times.append(wall)
            q_stats.append(_final_stats_qtraj(r))
            log(f"[speed] N={n_atoms} qtraj rep {rep}: {wall:.3f} s")
        res["qtraj"] = {"ntraj": c["ntraj_qtraj"], "times_s": q_times, "best_s": min(q_times),
                        "traj_per_s": c["ntraj_qtraj"] / min(q_times),
                        "jumps_per_traj": float(np.sum(r.records["jump_counts"]))}
        res["_qtraj_stats"] = q_stats
        for label, dtype in (("qutip", None), ("qutip_csr", "csr")):
            prob.run_qutip(2, seed=99, dtype=dtype)                  # warm-up
            ts, st = [], []
            for rep in range(reps):
                wall, r, layer = prob.run_qutip(c["ntraj_qutip"], seed=1000 + rep, dtype=dtype)
                ts.append(wall)
                st.append(_final_stats_qutip(r))
                log(f"[speed] N={n_atoms} {label} ({layer}) rep {rep}: {wall:.3f} s")
            res[label] = {"ntraj": c["ntraj_qutip"], "data_layer": layer, "times_s": ts,
                          "best_s": min(ts), "traj_per_s": c["ntraj_qutip"] / min(ts)}
            res["_" + label + "_stats"] = st
            res[label]["speedup_qtraj"] = res["qtraj"]["traj_per_s"] / res[label]["traj_per_s"]
        res["target_speedup"] = c["target"]
        res["meets_target"] = res["qutip"]["speedup_qtraj"] >= c["target"]
        res["meets_target_vs_csr"] = res["qutip_csr"]["speedup_qtraj"] >= c["target"]
        res["load_after"] = loadavg()
        out[n_atoms] = res
    return out


def reference_populations(n_atoms: int) -> dict:
    """Deterministic final-time populations: qutip.mesolve (CSR) and, for small d, qtraj.mesolve."""
    import qutip
    prob = Problem(n_atoms)
    H, c, e, psi0 = prob.qutip_ops("csr")
    r = qutip.mesolve(H, psi0, [0.0, T_FINAL], c, e_ops=e, options={"progress_bar": False})
    out = {"qutip_mesolve": [float(np.real(x[-1])) for x in r.expect]}
    if prob.d <= 16:
        import qtraj as qt
        rho = qt.mesolve(prob.model, prob.psi0, [0.0, T_FINAL])[-1]
        out["qtraj_mesolve"] = [float(np.real(np.trace(P @ rho))) for P in prob.eops]
        # the hand-built model equals qtraj.models.collective.lindblad (if present)
        try:
            from qtraj.models import collective
            Lm = collective.lindblad(n_atoms, NBAR, GAMMA0, F0)
            out["max_abs_liouvillian_diff_vs_models_collective"] = float(
                np.abs(Lm.liouvillian() - prob.model.liouvillian()).max())
        except (ImportError, AttributeError) as exc:  # pragma: no cover
            out["models_collective_check"] = f"skipped: {exc!r}"
    return out


def section_agreement(speed: dict) -> dict:
    out = {}
    for n_atoms, res in speed.items():
        ref = reference_populations(n_atoms)
        qt_m, qt_se, qt_n = pool(res["_qtraj_stats"])
        row = {"ntraj_qtraj": qt_n, "qtraj_mean": qt_m.tolist(), "qtraj_stderr": qt_se.tolist(),
               "reference": ref}
        exact = np.array(ref["qutip_mesolve"])
        row["z_qtraj_vs_exact"] = ((qt_m - exact) / np.maximum(qt_se, 1e-300)).tolist()
        zmax = [np.max(np.abs(row["z_qtraj_vs_exact"]))]
        for label in ("qutip", "qutip_csr"):
            m, se, n = pool(res["_" + label + "_stats"])
            row[f"{label}_ntraj"] = n
            row[f"{label}_mean"] = m.tolist()
            row[f"{label}_stderr"] = se.tolist()
            z = (qt_m - m) / np.maximum(np.sqrt(qt_se ** 2 + se ** 2), 1e-300)
            row[f"z_qtraj_vs_{label}"] = z.tolist()
            row[f"z_{label}_vs_exact"] = ((m - exact) / np.maximum(se, 1e-300)).tolist()
            zmax.append(np.max(np.abs(z)))
        row["max_abs_z"] = float(max(zmax))
        row["agree_within_4_se"] = bool(max(zmax) < 4.0)
        out[n_atoms] = row
    return out


def _kernel_only(prob: Problem, ntraj: int, times, e_ops: bool, store_states: bool) -> float:
    """Time of the bare Numba kernel for all trajectories in one block (no ensemble machinery).

    The job is built exactly as `qtraj.mcsolve` builds it (heat="transition", no kept jumps)."""
    from qtraj import kernel_inputs as ki
    from qtraj.jumps import JumpJob
    from qtraj.rng import root_key
    from qtraj.validation import as_state, as_times
    rho0 = as_state(prob.psi0, prob.d, "state0")
    times = as_times(times)
    eops = ki.as_eops(prob.eops if e_ops else None, prob.d)
    _, key = root_key(0)
    prop = ki.propagators_of([prob.model])
    job = JumpJob(propagators=prop, channels=ki.channels([prob.model], state_heat=False),
                  initial=ki.mixture(rho0),
                  outputs=ki.jump_outputs(times, prop, eops, store_states, False),
                  key=key, n_baths=len(prob.model.baths))
    job.run_block(0, 4)
    t0 = time.perf_counter()
    job.run_block(0, ntraj)
    return time.perf_counter() - t0


def _matvec_us(d: int, n: int = 2000) -> float | None:
    """Cost of one dense complex d x d matrix-vector product with qtraj's own Numba loop
    (`qtraj._kernels.primitives.matvec`)."""
    try:
        from numba import njit
        from qtraj._kernels.primitives import matvec
    except ImportError:
        return None

    @njit
    def loop(A, x, out, n):
        for _ in range(n):
            matvec(A, x, out)
            x[0] += 1e-300 * out[0]          # keep the iterations dependent
        return out[0]

    rng = np.random.default_rng(0)
    A = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    x = rng.normal(size=d) + 0j
    out = np.empty(d, complex)
    loop(A, x, out, 2)
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        loop(A, x, out, n)
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / n


def _root_us(prob: "Problem", n: int = 5000) -> float | None:
    """Cost of one exact jump-time root search (`qtraj._kernels.primitives.jump_time`, on the
    propagators `qtraj.mcsolve` builds) from |g...g>."""
    try:
        from numba import njit
        from qtraj import kernel_inputs as ki
        from qtraj._kernels.primitives import jump_time
        from qtraj.linalg import no_jump_propagator
    except ImportError:
        return None

    @njit
    def loop(prop, c, work, n):
        s = 0.0
        for i in range(n):
            r = 0.05 + 0.9 * ((i * 0.6180339887) % 1.0)
            s += jump_time(prop, 0, c, r, 0.0, 50.0, 0.0, work)
        return s

    prop = ki.propagators_of([prob.model])
    c = np.ascontiguousarray(
        no_jump_propagator(prob.model.effective_hamiltonian()).Vinv @ prob.psi0, dtype=complex)
    work = np.empty_like(c)
    loop(prop, c, work, 2)
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        loop(prop, c, work, n)
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / n


def section_profile(cfg: dict, reps: int) -> dict:
    """Where qtraj's time goes (best of reps for every variant)."""
    out = {}
    for n_atoms, ntraj in cfg.items():
        prob = Problem(n_atoms)
        two = np.array([0.0, T_FINAL])
        prob.run_qtraj(8)
        prob.run_qtraj(8, times=two, e_ops=False)
        prob.run_qtraj(8, store_states=True)

        def best(fn):
            return min(fn() for _ in range(reps))

        t = {
            "bench (101 times, 4 e_ops, store_states=False)":
                best(lambda: prob.run_qtraj(ntraj, seed=0)[0]),
            "no e_ops (101 times, store_states=False)":
                best(lambda: prob.run_qtraj(ntraj, seed=0, e_ops=False)[0]),
            "store_states=True + 4 e_ops (101 times)":
                best(lambda: prob.run_qtraj(ntraj, seed=0, store_states=True)[0]),
            "2 output times, no e_ops (jumps only)":
                best(lambda: prob.run_qtraj(ntraj, seed=0, times=two, e_ops=False)[0]),
        }
        try:
            t["bare kernel, bench config, one block"] = best(
                lambda: _kernel_only(prob, ntraj, prob.times, True, False))
        except Exception as exc:  # private API changed
            t["bare kernel, bench config, one block"] = None
            log(f"[profile] kernel-only timing skipped: {exc!r}")
        one = sorted(prob.run_qtraj(1, seed=0)[0] for _ in range(max(reps, 5)))
        t["call overhead (ntraj=1, median)"] = one[len(one) // 2]
        _, r = prob.run_qtraj(ntraj, seed=0)
        jpt = float(np.sum(r.records["jump_counts"]))
        tb = t["bench (101 times, 4 e_ops, store_states=False)"]
        tn = t["no e_ops (101 times, store_states=False)"]
        tj = t["2 output times, no e_ops (jumps only)"]
        derived = {
            "jumps_per_traj": jpt,
            "us_per_traj": 1e6 * tb / ntraj,
            "us_per_jump (upper bound, from 2-output-time run)": 1e6 * tj / (ntraj * jpt),
            "us_per_output_time_per_traj (no e_ops)": 1e6 * max(tn - tj, 0) / (ntraj * (N_TIMES - 2)),
            "us_per_output_time_per_traj for 4 e_ops": 1e6 * max(tb - tn, 0) / (ntraj * N_TIMES),
            "fraction_jumps": tj / tb,
            "fraction_output_times": max(tn - tj, 0) / tb,
            "fraction_e_ops": max(tb - tn, 0) / tb,
        }
        # reference: a dense d x d complex matvec; a jump needs psi = V c, ||L_k psi||^2
        # (K channels), L_k psi and c = V^-1 psi, i.e. K + 3 such products if done densely
        # (the kernel does them as sparse CSC products, skipping zero entries of the ket)
        mv = _matvec_us(prob.d)
        if mv is not None:
            derived[f"us_per_dense_matvec (d={prob.d}, reference)"] = mv
            derived["us_K+3_dense_matvecs (reference)"] = (len(prob.Ls) + 3) * mv
        try:
            from qtraj.linalg import no_jump_propagator
            V = no_jump_propagator(prob.model.effective_hamiltonian()).V
            derived["nonzero_fraction_V"] = float(np.mean(np.abs(V) > 1e-15 * np.abs(V).max()))
            derived["nonzero_fraction_L"] = float(np.mean([np.mean(L != 0) for L in prob.Ls]))
        except Exception as exc:
            log(f"[profile] sparsity skipped: {exc!r}")
        try:
            derived["us_per_jump_time_root_search"] = _root_us(prob)
        except Exception as exc:  # private API changed
            log(f"[profile] root-search timing skipped: {exc!r}")
        tk = t["bare kernel, bench config, one block"]
        if tk is not None:
            derived["fraction_python_ensemble_overhead"] = max(tb - tk, 0) / tb
        out[n_atoms] = {"ntraj": ntraj, "times_s": t, "derived": derived}
        log(f"[profile] N={n_atoms}: {json.dumps(derived)}")
    return out


def section_memory(cases) -> dict:
    """Peak RSS of fresh subprocesses; each case = (label, n_atoms, store_states, batch_size,
    [ntraj_small, ntraj_large])."""
    log("[memory] warm-up child (Numba cache)")
    run_child({"mode": "memory", "n_atoms": 2, "ntraj": 64, "store_states": True})
    out = {"cases": []}
    for label, n_atoms, store, bs, ntrajs in cases:
        rows = []
        for n in ntrajs:
            log(f"[memory] {label}: N={n_atoms} ntraj={n} store_states={store} batch_size={bs}")
            rows.append(run_child({"mode": "memory", "n_atoms": n_atoms, "ntraj": n,
                                   "store_states": store, "batch_size": bs}))
        growth = rows[1]["maxrss_mib"] - rows[0]["maxrss_mib"]
        case = {"label": label, "n_atoms": n_atoms, "store_states": store, "batch_size": bs,
                "runs": rows, "maxrss_growth_mib": growth,
                "grows": bool(rows[-1]["maxrss_mib"] - rows[0]["maxrss_mib"] > 5.0)}
        if len(rows) > 2:   # does it keep growing beyond the second size?
            case["maxrss_growth_tail_mib"] = rows[2]["maxrss_mib"] - rows[1]["maxrss_mib"]
            case["bounded"] = bool(case["maxrss_growth_tail_mib"] < 2.0)
        out["cases"].append(case)
    main = [c for c in out["cases"] if c["label"].startswith("spec")]
    out["grows_with_ntraj_spec_cases"] = any(c["grows"] for c in main)
    return out


def section_compile(reps_warm: int, reps_cold: int, ntraj: int = 10) -> dict:
    log("[compile] warming the default cache (a previous run)")
    warmup = run_child({"mode": "compile", "ntraj": ntraj})
    warm = []
    for i in range(reps_warm):
        warm.append(run_child({"mode": "compile", "ntraj": ntraj}))
        log(f"[compile] warm cache {i}: first call {warm[-1]['first_call_s']:.3f} s")
    cold = []
    for i in range(reps_cold):
        with tempfile.TemporaryDirectory(prefix="qtraj_numba_cache_") as tmp:
            cold.append(run_child({"mode": "compile", "ntraj": ntraj},
                                  env={"NUMBA_CACHE_DIR": tmp}))
        log(f"[compile] empty cache {i}: first call {cold[-1]['first_call_s']:.3f} s")
    allruns = warm + cold
    return {
        "ntraj_per_call": ntraj, "n_atoms": 2,
        "warmup_run": warmup, "warm_cache_runs": warm, "empty_cache_runs": cold,
        "first_call_warm_cache_s": min(r["first_call_s"] for r in warm),
        "first_call_empty_cache_s": min(r["first_call_s"] for r in cold),
        "import_s": min(r["import_s"] for r in allruns),
        "warm_call_s": min(min(r["second_call_s"], r["third_call_s"]) for r in allruns),
    }


def section_parallel(rate_1core: float, seconds: float, reps: int) -> dict:
    prob = Problem(2)
    ntraj = int(math.ceil(seconds * rate_1core / 512) * 512)
    log(f"[parallel] N=2, ntraj={ntraj} (target {seconds:.0f} s on one core)")
    t0 = time.perf_counter()
    prob.run_qtraj(64 * 16, n_jobs=2)            # start the loky workers, load kernels there
    warm = time.perf_counter() - t0
    t1s, t2s = [], []
    r1 = r2 = None
    for rep in range(reps):                      # interleave, so load changes hit both
        w, r1 = prob.run_qtraj(ntraj, seed=0, n_jobs=1)
        t1s.append(w)
        w, r2 = prob.run_qtraj(ntraj, seed=0, n_jobs=2)
        t2s.append(w)
        log(f"[parallel] rep {rep}: t1 = {t1s[-1]:.2f} s, t2 = {t2s[-1]:.2f} s")
    t1, t2 = min(t1s), min(t2s)
    from joblib import Parallel, delayed
    worker_dirs = sorted(set(Parallel(n_jobs=2, backend="loky")(
        delayed(_worker_qtraj_dir)(i) for i in range(4))))
    return {"n_atoms": 2, "ntraj": ntraj, "backend": "loky", "worker_startup_s": warm,
            "t1_times_s": t1s, "t2_times_s": t2s, "t1_s": t1, "t2_s": t2,
            "speedup": t1 / t2, "efficiency": t1 / (2 * t2),
            "identical_results_n_jobs_1_vs_2": bool(np.array_equal(r1.expect, r2.expect)),
            "load_during": loadavg(), "worker_qtraj_dirs": worker_dirs}


def section_qutip_default_blas(ntraj: int) -> dict:
    """QuTiP (Dense, N=7) with BLAS threading left at its default (supplementary)."""
    env = {v: None for v in BLAS_VARS}
    try:
        return run_child({"mode": "qutip", "n_atoms": 7, "ntraj": ntraj}, env=env, timeout=900)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return {"error": repr(exc)[:500]}


# ----------------------------------------------------------------------------- report
def _fmt(x, nd=3):
    if x is None:
        return "-"
    if isinstance(x, (int, np.integer)):
        return f"{x:,d}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.{nd}g}"


def report(R: dict) -> str:
    L = ["| figure | value | target / verdict |", "|---|---|---|"]
    for n, s in R.get("speed", {}).items():
        q = s["qtraj"]
        L.append(f"| N={n} (d={s['dim']}) qtraj 1 core, {q['ntraj']} traj | "
                 f"{_fmt(q['traj_per_s'])} traj/s ({q['best_s']:.3f} s, "
                 f"{q['jumps_per_traj']:.0f} jumps/traj) | |")
        for label in ("qutip", "qutip_csr"):
            u = s[label]
            ok = u["speedup_qtraj"] >= s["target_speedup"]
            tgt = (f">= {s['target_speedup']}x: " + ("met" if ok else "**missed**")
                   if label == "qutip" else f"(supplement; {'>=' if ok else '<'} "
                                            f"{s['target_speedup']}x)")
            L.append(f"| N={n} qutip.mcsolve ({u['data_layer']}), {u['ntraj']} traj | "
                     f"{_fmt(u['traj_per_s'])} traj/s ({u['best_s']:.2f} s) -> "
                     f"**{u['speedup_qtraj']:.1f}x** | {tgt} |")
    u = R.get("qutip_default_blas", {})
    if "traj_per_s" in u:
        L.append(f"| N=7 qutip ({u['data_layer']}), default BLAS threads, {u['ntraj']} traj | "
                 f"{_fmt(u['traj_per_s'])} traj/s (one run) | (supplement) |")
    for case in R.get("memory", {}).get("cases", []):
        rs = case["runs"]
        bs = "default" if case["batch_size"] is None else case["batch_size"]
        L.append(f"| peak RSS ({case['label']}) N={case['n_atoms']}, "
                 f"store_states={case['store_states']}, batch_size={bs}: " +
                 " vs ".join(f"{x['ntraj']:.0e}" for x in rs) + " traj | " +
                 " vs ".join(f"{x['maxrss_mib']:.1f}" for x in rs) +
                 f" MiB (+{case['maxrss_growth_mib']:.1f} MiB from the 1st to the 2nd; "
                 "before the run " +
                 " / ".join(f"{x['maxrss_before_run_mib']:.1f}" for x in rs) + ") | "
                 + (("no growth: " + ("met" if not case["grows"] else
                                      "**grows**, then flat (bounded)" if case.get("bounded")
                                      else "**grows**") + " |")
                    if case["label"].startswith("spec") else "(diagnostic) |"))
    if "compile" in R:
        c = R["compile"]
        L.append(f"| first call, fresh process, warm Numba cache | "
                 f"{c['first_call_warm_cache_s']:.2f} s (+ import {c['import_s']:.2f} s) | |")
        L.append(f"| first call, fresh process, empty cache (compile) | "
                 f"{c['first_call_empty_cache_s']:.2f} s | |")
        L.append(f"| warm call (N=2, {c['ntraj_per_call']} traj) | "
                 f"{1e3 * c['warm_call_s']:.2f} ms | |")
    if "parallel" in R:
        p = R["parallel"]
        L.append(f"| 2-core efficiency (N=2, {p['ntraj']} traj, loky) | {p['efficiency']:.2f} "
                 f"(t1 {p['t1_s']:.1f} s, t2 {p['t2_s']:.1f} s; load {p['load_during']}) | |")
    if "agreement" in R:
        L += ["", "Final-time populations (pooled over repetitions), mean +- stderr:", "",
              "| N | e_op | qtraj | qutip (Dense) | qutip (CSR) | master eq. | z qtraj-qutip |",
              "|---|---|---|---|---|---|---|"]
        for n, a in R["agreement"].items():
            for k in range(len(a["qtraj_mean"])):
                L.append(f"| {n} | P{k} | {a['qtraj_mean'][k]:.4f} +- "
                         f"{a['qtraj_stderr'][k]:.4f} | "
                         f"{a['qutip_mean'][k]:.4f} +- {a['qutip_stderr'][k]:.4f} | "
                         f"{a['qutip_csr_mean'][k]:.4f} +- {a['qutip_csr_stderr'][k]:.4f} | "
                         f"{a['reference']['qutip_mesolve'][k]:.4f} | "
                         f"{a['z_qtraj_vs_qutip'][k]:+.2f} |")
    if "profile" in R:
        L += ["", "qtraj profile (best of reps):", "", "| N | variant | time (s) |",
              "|---|---|---|"]
        for n, pr in R["profile"].items():
            for k, v in pr["times_s"].items():
                L.append(f"| {n} ({pr['ntraj'] if 'ntraj=1' not in k else 1} traj) | {k} | "
                         f"{_fmt(v, 4)} |")
            for k, v in pr["derived"].items():
                L.append(f"| {n} | {k} | {_fmt(v, 3)} |")
    return "\n".join(L)


SECTIONS = ["speed", "profile", "memory", "compile", "parallel", "blas"]


def main(args, snapshot: dict | None = None) -> int:
    quick = args.quick
    reps = args.reps
    out_path = args.out or HERE / "results" / ("mcsolve_quick.json" if quick else "mcsolve.json")
    speed_cfg = ({2: {"ntraj_qtraj": 2000, "ntraj_qutip": 200, "target": 100},
                  7: {"ntraj_qtraj": 40, "ntraj_qutip": 10, "target": 10}} if quick else
                 {2: {"ntraj_qtraj": 2000, "ntraj_qutip": 2000, "target": 100},
                  7: {"ntraj_qtraj": 200, "ntraj_qutip": 200, "target": 10}})
    R: dict = {"date": date.today().isoformat(), "quick": quick, "reps": reps,
               "machine": machine_info(), "versions": versions(),
               "blas_env": {v: os.environ.get(v) for v in BLAS_VARS},
               "qtraj_snapshot": snapshot,
               "qtraj_source_sha256": source_hashes(),
               "model": {"nbar": NBAR, "gamma0": GAMMA0, "f0": F0, "t": [0.0, T_FINAL],
                         "n_times": N_TIMES, "initial": "|g...g>",
                         "e_ops": "projectors on basis states 0..3",
                         "qtraj_call": "qt.mcsolve(model, psi0, times, ntraj, n_jobs=1, "
                                       "store_states=False, e_ops=pops, progress=False)",
                         "qutip_call": "qutip.mcsolve(H, psi0, times, c_ops, e_ops=pops, "
                                       "ntraj=n, options={'store_states': False, "
                                       "'progress_bar': False})"},
               "load_start": loadavg()}
    t_start = time.perf_counter()
    names = SECTIONS if args.sections == "all" else [x.strip() for x in args.sections.split(",")]
    unknown = set(names) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    R["sections"] = names
    if args.out is None and args.sections != "all":
        out_path = HERE / "results" / ("mcsolve_" + "_".join(names) +
                                       ("_quick" if quick else "") + ".json")
    if "speed" in names:
        R["speed"] = section_speed(speed_cfg, reps)
        R["agreement"] = section_agreement(R["speed"])
        for s in R["speed"].values():           # per-repetition stats are only for agreement
            for k in [k for k in s if k.startswith("_")]:
                del s[k]
    if "profile" in names:
        R["profile"] = section_profile({2: 2000, 7: 20 if quick else 100}, reps)
    if "memory" in names:
        big = 10_000 if quick else 100_000
        mem_cases = [("spec", 2, False, None, [1000, big, 3 * big]),
                     ("spec", 2, True, None, [1000, big, 3 * big]),
                     ("diag: fixed batch", 2, True, 1024, [1000, big])]
        if not quick:
            mem_cases.append(("diag: d=32", 5, True, None, [640, 6400]))
        R["memory"] = section_memory(mem_cases)
    if "compile" in names:
        R["compile"] = section_compile(1 if quick else reps, 1 if quick else reps)
    if "parallel" in names:
        par_s = args.parallel_seconds or (2.0 if quick else 22.0)
        if "speed" in R:
            rate = R["speed"][2]["qtraj"]["traj_per_s"]
        else:                                   # calibrate the single-core rate
            prob = Problem(2)
            prob.run_qtraj(8)
            rate = 2000 / min(prob.run_qtraj(2000, seed=i)[0] for i in range(reps))
        R["parallel"] = section_parallel(rate, par_s, reps)
    if "blas" in names and args.blas_threads > 0:
        R["qutip_default_blas"] = section_qutip_default_blas(2 if quick else 5)
    R["load_end"] = loadavg()
    R["qtraj_source_sha256_end"] = source_hashes()
    if snapshot is not None:
        R["live_tree_sha256_end"] = _tree_hash(Path(snapshot["source"]))
        R["live_tree_changed_during_run"] = R["live_tree_sha256_end"] != snapshot["tree_sha256"]
    seen = {json.dumps(R["qtraj_source_sha256"], sort_keys=True),
            json.dumps(R["qtraj_source_sha256_end"], sort_keys=True)}
    for sec in ("memory", "compile"):
        for case in (R.get(sec, {}).get("cases", []) if sec == "memory" else [R.get(sec, {})]):
            for run in case.get("runs", []) + case.get("warm_cache_runs", []) + \
                    case.get("empty_cache_runs", []):
                seen.add(json.dumps(run["qtraj_source_sha256"], sort_keys=True))
    R["qtraj_source_changed_during_run"] = len(seen) > 1
    if len(seen) > 1:
        log("WARNING: qtraj source files changed during the run; figures mix versions")
    R["total_wall_s"] = time.perf_counter() - t_start
    table = report(R)
    R["table_markdown"] = table
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(R, indent=2, default=lambda o: o.tolist()
                                   if isinstance(o, np.ndarray) else float(o)))
    print(table)
    print(f"\nwritten {out_path}  (total {R['total_wall_s']:.0f} s, load {R['load_start']} -> "
          f"{R['load_end']})")
    return 0


if __name__ == "__main__":
    if ARGS.child is not None:
        print(json.dumps(child_main(json.loads(ARGS.child))))
        sys.exit(0)
    snap = None
    if not ARGS.no_snapshot:
        snap = make_snapshot()
        log(f"[snapshot] benchmarking a frozen copy of {snap['source']} "
            f"(tree {snap['tree_sha256']}) in {snap['copy']}")
    try:
        rc = main(ARGS, snap)
    finally:
        if snap is not None:
            import shutil
            shutil.rmtree(Path(snap["copy"]).parent, ignore_errors=True)
    sys.exit(rc)
