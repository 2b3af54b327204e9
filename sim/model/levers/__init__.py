"""Levers: what scenario events do to the chain (economics and price floors, stockpiles,
offtakes, start-ups, demand response, origin rules, timing and reach of controls)."""
