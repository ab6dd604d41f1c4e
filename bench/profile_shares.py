"""Shares of a py-spy profile of ``detektor run`` by pipeline stage (issue 16).

    py-spy record -r 50 -f raw -o run.txt -- .venv/bin/detektor run --duration 40 \\
        --source "synthetic://?fps=5&size=640x480"  (x8)
    .venv/bin/python bench/profile_shares.py run.txt

Each raw stack is put in the first stage whose marker it contains. Samples of threads that
wait (``threading`` conditions and events, ``queue.get``, a future's ``result``) are left out:
py-spy's idle detection does not see them here. What remains under ``asyncio`` is the event
loop in native code, mostly its ``epoll`` wait, which py-spy cannot tell from work either.
"""

from __future__ import annotations

import sys
from collections import Counter

WAITING = ("Condition.wait (threading.py", "Event.wait (threading.py", "Future.result (concurrent")
STAGES = [
    ("onnxruntime Session.run", ("onnxruntime_inference_collection.py",)),
    (
        "JPEG encode (capture)",
        ("cv2.imencode", "_sample (detektor/services/capture/camera.py:219)"),
    ),
    ("JPEG decode (processor)", ("decode_jpeg",)),
    ("SQLite event append", ("sqlite/store.py", "sqlite/connection.py")),
    ("synthetic scene", ("synthetic.py",)),
    ("motion gate", ("motion.py",)),
    ("detector pre/post", ("detection/",)),
    ("snapshots (objects stage)", ("objects/snapshots.py",)),
    ("event loop, native (asyncio)", ("runners.py:118",)),
]


def stage(stack: str) -> str:
    for name, markers in STAGES:
        if any(m in stack for m in markers):
            return name
    return "other Python"


def shares(path: str) -> tuple[Counter[str], int]:
    busy: Counter[str] = Counter()
    waiting = 0
    with open(path, encoding="utf-8") as raw:
        for line in raw:
            stack, _, count = line.rstrip().rpartition(" ")
            if not stack:
                continue
            frames = stack.split(";")
            if frames[-1].startswith(WAITING) or any(
                "Queue.get (queue.py" in f for f in frames[-2:]
            ):
                waiting += int(count)
                continue
            busy[stage(stack)] += int(count)
    return busy, waiting


def main() -> None:
    busy, waiting = shares(sys.argv[1])
    total = sum(busy.values())
    print("| stage | samples | share |\n|---|---|---|")
    for name, n in busy.most_common():
        print(f"| {name} | {n} | {100 * n / total:.1f} % |")
    print(f"\nbusy samples {total}; waiting samples left out {waiting}")


if __name__ == "__main__":
    main()
