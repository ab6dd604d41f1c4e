"""The services ``detektor serve NAME`` can run, keyed by name and imported on demand."""

SERVICES: dict[str, str] = {
    "example": "detektor.services.example.service:build",
    "tracking": "detektor.services.tracking.service:build",
}
