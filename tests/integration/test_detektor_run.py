"""``detektor run`` as a user runs it: progress, the API while it runs, the summary, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from support.embedded_run import start_run, wait_for_frames
from support.services import free_port


def test_run_serves_the_api_and_prints_progress_and_a_summary(tmp_path: Path) -> None:
    port = free_port()
    proc = start_run(
        tmp_path, port, "--duration", "12", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        frames = wait_for_frames(port, 10)
        assert frames, "the API showed no frame while running"
        assert frames[0]["camera"] == "synthetic"
        objects = httpx.get(f"http://127.0.0.1:{port}/v1/objects", timeout=2)  # served here too
        assert objects.status_code == 200
        assert objects.json()["next_cursor"] is None
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "summary" in out
    summary = out[out.index("summary") :]
    assert "synthetic" in summary
    assert "yes" in summary  # balanced
    assert "end-to-end latency (capture to completion)" in summary
    assert "p99" in summary
    assert "progress: " in out  # not a terminal: the progress line is logged every 10 s
    assert (tmp_path / "detektor-data" / "detektor.db").is_file()


def test_invalid_source_or_camera_fails_at_start(tmp_path: Path) -> None:
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "detektor.cli", "run", "--duration", "1", *args],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    bogus = run("--source", "bogus://camera")
    assert bogus.returncode == 2
    assert "rtsp://" in bogus.stderr
    assert "Traceback" not in bogus.stderr

    config = tmp_path / "cams.yml"
    config.write_text("cameras:\n  - name: Front Door\n    source: synthetic://\n")
    named = run(env={"DETEKTOR_CONFIG": str(config)})
    assert named.returncode == 2
    assert "cameras.0.name" in named.stderr
    assert len(named.stderr.strip().splitlines()) == 1

    missing = run("--source", str(tmp_path / "nope.mp4"))
    assert missing.returncode == 2
    assert "not found" in missing.stderr
