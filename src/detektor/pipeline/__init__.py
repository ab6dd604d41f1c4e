"""What every pipeline stage shares: lifecycle events, sinks wiring and the processor base."""
