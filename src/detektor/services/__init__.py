"""The services ``detektor serve NAME`` can run, keyed by name and imported on demand."""

SERVICES: dict[str, str] = {
    "capture": "detektor.services.capture.service:build",
    "detector": "detektor.services.detector.service:build",
    "example": "detektor.services.example.service:build",
    "notifier": "detektor.services.notifier.service:build",
    "objects": "detektor.services.objects.service:build",
    "tracking": "detektor.services.tracking.service:build",
}
