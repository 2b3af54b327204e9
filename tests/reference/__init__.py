"""Reference implementations, in plain numpy, that the production code is tested against.

They are the numpy code the engine ran before its compiled kernels (the same operations in the
same order), kept here, not in ``sim/``: the tests compare what the engine runs with them, bit
for bit where the arithmetic is the same (`allocation.pass_flows`, `flows.arrivals`), and
within rounding where it is not (`allocation.dense_allocate` allocates between every supplier
and customer, the engine between lanes and classes).
"""
