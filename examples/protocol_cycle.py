"""A two-stroke cycle: a qubit alternately coupled to a hot and a cold bath at two frequencies.

Each stroke is a `Lindblad` model acting for a fixed time; switching the frequency between
strokes costs work.  `Protocol.energetics` gives the exact heat and work per cycle in the
periodic state; `Protocol.simulate` counts them jump by jump.
"""


import qtraj as qt
from qtraj import operators as op
from qtraj.operators import thermal_occupation
from qtraj.protocols import Protocol


def stroke(omega, beta, gamma, bath):
    n = thermal_occupation(omega, beta)
    return qt.Lindblad(0.5 * omega * op.sigma_z(),
                       [qt.Channel(op.sigma_minus(), gamma * (n + 1), bath=bath, energy=-omega),
                        qt.Channel(op.sigma_plus(), gamma * n, bath=bath, energy=omega)])


P = Protocol([(2.0, stroke(2.0, 0.5, 1.0, "hot"), "hot stroke"),
              (2.0, stroke(1.0, 2.0, 1.0, "cold"), "cold stroke")])
exact = P.energetics(n_cycles=1)
res = P.simulate(n_cycles=5, ntraj=4000, seed=2, progress=False)

print("baths:", res.meta["baths"])
print("heat per cycle  (shots):", res["heat_per_cycle"], "+-", res["heat_per_cycle_stderr"])
print("heat per cycle  (exact):", exact["heat_per_cycle"])
print("work per cycle  (shots):", res["work_per_cycle"], "+-", res["work_per_cycle_stderr"])
print("work per cycle  (exact):", exact["work_per_cycle"])
print("first law per cycle (exact): heat + work =",
      exact["heat_per_cycle"].sum() + exact["work_per_cycle"])
