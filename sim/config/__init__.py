"""Configuration: the validated, frozen scenario (events, horizon, distributions) and the keyed
draws of its uncertain inputs. Imports only the base layer (errors, units)."""
