"""The package's version, recorded in every manifest and sweep key."""

__version__ = "0.1.0"
