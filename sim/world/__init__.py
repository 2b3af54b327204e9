"""The world a scenario runs on: its data model, the embedded data files (`data/`), vintages
and history. Imports config and the base layer."""
