"""Detektor: self-hosted video monitoring that is observable and verifiable by design."""

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The installed distribution's version, or a marker when running from a bare tree."""
    try:
        return version("detektor")
    except PackageNotFoundError:
        return "0+unknown"
