"""``darkroom simulate``: a discrete-event simulation (SimPy) of the spot pool, priced, with its alternatives."""
