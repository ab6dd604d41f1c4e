"""Adapters: one per backend, each implementing a port from ``detektor.ports``."""
