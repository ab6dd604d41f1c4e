"""``detektor verify``: a live deployment checks itself and writes the report.

Each check (``checks``, ``external``) asks a backend (Prometheus, the services, the tracking
API, Jaeger, the Docker Engine) over HTTP with a bounded timeout and returns a
``CheckResult``; ``report`` renders them as Markdown or JSON; ``run`` wires the command.
"""

from detektor.verify.model import CheckResult, Status, VerifyOptions

__all__ = ["CheckResult", "Status", "VerifyOptions"]
