"""The tracking service: the event-sourced history of every frame, and its query API."""
