"""Markets: allocation of scarce supply among customers, lanes and flows, scarcity prices, and
their compiled kernels. Imports only the base layer."""
