"""Runs: one run, shared histories, sweeps and their executors and store, tidy tables,
summaries, sensitivity and backtests. Imports model and the layers below it."""
