"""Configuration: the validated, frozen scenario and the keyed draws of its uncertain inputs.

Events, horizon and distributions are pydantic models. Imports only the base layer (errors,
units).
"""
