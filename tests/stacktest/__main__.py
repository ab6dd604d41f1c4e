"""The stack in real containers (scripts/stack-test; docs/deploy.md, "The stack test").

Steps: a private Docker engine; the images (built here, or the official ones with
``--official-images``); the core profile up with three cameras and an OTLP receiver; a soak;
``detektor verify --docker`` on the healthy stack (PASS); chaos; a crash-looping detector,
its alert and ``verify`` (FAIL naming it); the ledger (every frame and every event accounted
for). Everything is torn down, engine included, whatever happens. Exit code 0 when every
finding holds, 1 when one does not, 2 when the stack could not be brought up at all."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import traceback
from contextlib import ExitStack
from pathlib import Path

from stacktest import chaos, images, ledger, soak
from stacktest.cameras import rtsp_camera, write_cameras
from stacktest.engine import Engine, EngineError, PrivateEngine
from stacktest.objects_check import check_objects
from stacktest.output import Findings, say, step
from stacktest.stack import APP_SERVICES, Stack
from stacktest.verify_run import check_named, run_verify

UP_TIMEOUT_S = 300.0
MIN_SOAK_S = 120.0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/stack-test", description=__doc__)
    parser.add_argument(
        "--soak",
        type=float,
        default=600,
        metavar="S",
        help=f"soak seconds (600; at least {MIN_SOAK_S:.0f}: the frame rate is judged minute by "
        "minute after the first)",
    )
    parser.add_argument(
        "--docker-host",
        metavar="SOCKET",
        help="use this engine's unix socket (e.g. /var/run/docker.sock) instead of a private one",
    )
    parser.add_argument(
        "--official-images",
        action="store_true",
        help="pull compose's default images instead of building stand-ins (needs a registry)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the stack up at the end")
    args = parser.parse_args(argv)
    if args.soak < MIN_SOAK_S:
        parser.error(f"--soak must be at least {MIN_SOAK_S:.0f} s, got {args.soak:g}")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    # `docker stop`/CI cancellation: unwind through the finally blocks, tearing down
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    findings = Findings()
    with ExitStack() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="detektor-stack-"))
        workdir.chmod(0o755)
        if not args.keep:  # registered first, so it runs last: after the engine has stopped
            cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        engine: Engine
        if args.docker_host:
            engine = Engine(Path(args.docker_host))
            gateway = "0.0.0.0"  # a real host: its own firewall decides who reaches it
        else:
            private = PrivateEngine(workdir / "engine")
            with step(f"private dockerd ({private.root})"):
                private.start()
            if not args.keep:
                cleanup.callback(private.stop)
            engine = private
            gateway = private.bridge_gateway()
        try:
            built = images.build_all(engine, official=args.official_images)
            stack = Stack(engine, built, workdir)
            camera = cleanup.enter_context(rtsp_camera(gateway))
            write_cameras(workdir, camera.port)
            if not args.keep:
                cleanup.callback(_down, stack)
            audit = _up(stack)
        except (EngineError, OSError, RuntimeError) as exc:
            say(f"the stack could not be brought up: {exc}")
            return 2
        try:
            run(stack, audit, args, findings)
        except Exception:  # reported as a finding; the teardown still runs
            findings.check("the stack test ran to its end", False, traceback.format_exc())
        print(findings.summary(), flush=True)
        if args.keep:
            say(f"left running: DOCKER_HOST={engine.host}, project {stack.project}, {workdir}")
    return 1 if findings.failed else 0


def _up(stack: Stack) -> ledger.Audit:
    with step("core profile up (Redis first, with the ledger's consumer group)"):
        stack.compose("up", "-d", "--no-build", "redis")
        stack.wait_healthy(120, ["redis"])
        audit = ledger.Audit(stack.redis_url).start()
        stack.compose("up", "-d", "--no-build")
        took = stack.wait_healthy(UP_TIMEOUT_S)
        say(f"    every container healthy after {took:.0f} s: {', '.join(sorted(stack.health()))}")
    return audit


def _down(stack: Stack) -> None:
    with step("teardown"):
        stack.compose("down", "-v", "--timeout=20", check=False)


def run(stack: Stack, audit: ledger.Audit, args: argparse.Namespace, findings: Findings) -> None:
    soak.soak(stack, args.soak, findings)
    check_objects(stack, findings)
    with step("verify --docker on the healthy stack"):
        healthy = run_verify(stack, "healthy")
        findings.check(
            "verify PASSes the healthy stack",
            healthy["exit_code"] == 0 and check_named(healthy, "Traces")["status"] == "PASS",
            f"verdict {healthy['verdict']}; Traces: {check_named(healthy, 'Traces')['summary']}",
        )
        recorded = check_named(healthy, "Recordings")
        findings.check(
            "the video and rtsp cameras are recorded onto the recordings volume",
            recorded["status"] == "PASS"
            and {line.split(":")[0] for line in recorded["evidence"]} >= {"video", "rtsp"},
            f"Recordings: {recorded['summary']}",
        )
    chaos.chaos(stack, findings)
    chaos.crash_loop(stack, "detector", findings)
    with step("verify --docker on the crash-looping stack"):
        broken = run_verify(stack, "broken")
        restarts = check_named(broken, "Restarts")
        findings.check(
            "verify FAILs the crash-looping stack, naming the detector",
            broken["exit_code"] == 1
            and restarts["status"] == "FAIL"
            and "detector" in restarts["summary"],
            f"verdict {broken['verdict']}; Restarts: {restarts['summary']}",
        )
    with step("the detector left alone again"):
        took = stack.wait_healthy(chaos.RECOVERY_S, list(APP_SERVICES))
        say(f"    healthy after {took:.0f} s")
    ledger.check_ledger(stack, audit, findings)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
