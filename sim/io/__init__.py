"""The edges: scenario and observed files, reports, plots and the command line. The only layer
that reads or writes files, prints or plots."""
