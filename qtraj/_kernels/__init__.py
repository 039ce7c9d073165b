"""Numba kernels: the one jump step and the trajectory loops built on it.

Layer rule: this package imports nothing from qtraj except `qtraj.rng` (the random streams).
Inputs are the named structures of `structs`; the Python side builds them in
`qtraj.kernel_inputs`.

* `primitives` — sparse products, sampling, shifted-sum accumulation, the no-jump norm and the
  exact jump-time root.
* `krylov` — the Krylov no-jump propagator (large, sparse or defective H_eff), used by the
  jump step for segments marked `Propagators.krylov`.
* `step` — the jump step: evolve a ket without jumps up to a stop time or jump at the exact
  crossing of its threshold (choose the channel, apply it, renormalise, draw a new threshold).
* `jumps`, `protocol`, `collisions` — the trajectory loops of `qt.mcsolve`, `Protocol.simulate`
  and `CollisionModel.simulate` (the coherence machine's loop lives with its model).
"""
