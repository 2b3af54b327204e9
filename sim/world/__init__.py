"""The world a scenario runs on: its data model, embedded data, vintages and history.

The data files (`data/`) are read through one pydantic row model a file. Imports config and the
base layer.
"""
