"""Pure domain of frame tracking: frame ids, lifecycle events, the state machine, timelines and
accounting. Nothing here imports an I/O library; adapters and services build on it."""
