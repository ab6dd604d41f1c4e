"""The one error type the domain raises for bad input.

Adapters turn it into a 4xx answer (`{"error": {"message", "field"}}`) or a rejected event, so it
carries the offending field's dotted path and a message a person can act on.
"""

from __future__ import annotations


class ValidationError(ValueError):
    """Input that breaks a domain rule; `field` is a dotted path such as `data.width`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return f"ValidationError(field={self.field!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[type[ValidationError], tuple[str, str]]:
        # The default pickling replays args, which hold one joined string; keep both parts so the
        # error survives a trip through a process pool or a queue.
        return (type(self), (self.field, self.message))
