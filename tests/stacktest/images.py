"""The images the stack runs, built on a host with no container registry: a Debian base from
``debootstrap`` and ``docker import``, the stand-ins of tests/stack/images/Dockerfile (a
Python base for the project's image, and the servers and exporters from Debian's packages),
then the project's own image from deploy/Dockerfile, unchanged, on that Python base.

With ``official=True`` (a real host with a registry) nothing is built but the project's image,
and compose's defaults, the official images, are pulled as a user's stack would."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from stacktest.engine import DOCKER, Engine, EngineError
from stacktest.output import say, step

REPO = Path(__file__).resolve().parents[2]
STANDINS = REPO / "tests" / "stacktest" / "images"
DEBIAN = "detektor-stack/debian:bookworm"
PYTHON = "detektor-stack/python:3.11"
APP = "detektor:stack-test"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
MIRROR = "http://deb.debian.org/debian"

# compose.yml's image variable -> the stand-in's Dockerfile target
SERVICES = {
    "REDIS_IMAGE": "redis",
    "POSTGRES_IMAGE": "postgres",
    "MOSQUITTO_IMAGE": "mosquitto",
    "PROMETHEUS_IMAGE": "prometheus",
    "ALERTMANAGER_IMAGE": "alertmanager",
    "NODE_EXPORTER_IMAGE": "node-exporter",
    "POSTGRES_EXPORTER_IMAGE": "postgres-exporter",
    "REDIS_EXPORTER_IMAGE": "redis-exporter",
}


def build_all(engine: Engine, *, official: bool) -> dict[str, str]:
    """Build what the stack needs; the compose variables that name the images."""
    images = {"APP_IMAGE": APP}
    if official:
        with step("project image (deploy/Dockerfile, official Python base)"):
            _build(engine, ["-f", "deploy/Dockerfile", "-t", APP, "."], REPO)
        return images
    if not _exists(engine, DEBIAN):
        with step(f"Debian base (debootstrap --variant=minbase bookworm, {MIRROR})"):
            _debian_base(engine)
    with tempfile.TemporaryDirectory(prefix="stack-images-") as tmp:
        context = Path(tmp)
        for item in STANDINS.iterdir():
            shutil.copy(item, context / item.name)
        # pip inside a container reaches the package index only with the host's CA bundle
        shutil.copy(HOST_CA, context / "host-ca.crt")
        with step("Python base (Debian's python3, with the host's CA bundle for pip)"):
            _build(engine, ["--target", "python", "-t", PYTHON, "."], context)
        with step("servers and exporters from Debian's packages"):
            for variable, target in SERVICES.items():
                tag = f"detektor-stack/{target}:local"
                _build(engine, ["--target", target, "-t", tag, "."], context)
                images[variable] = tag
    with step("project image (deploy/Dockerfile, unchanged)"):
        args = ["--build-arg", f"PYTHON_IMAGE={PYTHON}", "-f", "deploy/Dockerfile", "-t", APP, "."]
        _build(engine, args, REPO)
    return images


def _exists(engine: Engine, image: str) -> bool:
    return bool(engine.docker("images", "-q", image, check=False).strip())


def _build(engine: Engine, args: list[str], context: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [DOCKER, "build", "--progress=plain", *args],
        cwd=context,
        env=engine.env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise EngineError(f"docker build {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    say(f"    built {args[args.index('-t') + 1]} in {time.monotonic() - started:.0f} s")


def _debian_base(engine: Engine) -> None:
    if shutil.which("debootstrap") is None:
        raise EngineError("debootstrap is missing: apt-get install debootstrap")
    with tempfile.TemporaryDirectory(prefix="stack-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), MIRROR],
            check=True,
            capture_output=True,
        )
        # what debootstrap downloaded stays out of the image
        for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [DOCKER, "import", "-", DEBIAN],
            stdin=tar.stdout,
            env=engine.env,
            capture_output=True,
            text=True,
            check=False,
        )
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise EngineError(f"docker import failed: {imported.stderr.strip()}")
