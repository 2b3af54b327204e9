"""The model: the chain's structure and per-sample state, the stages that move material each
step as SimPy actors, and the mass-balance ledger. No file I/O, printing or plotting; imports
market, world, config and the base layer."""
