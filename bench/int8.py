"""FP32 against INT8 NanoDet on real photos: the same detections, and how much faster.

    /work/main/.venv/bin/python bench/int8.py [--repeats 30] [--threads 2]

Both bundled models load through the detector's own loader (``OnnxDetector``, CPU, the same
threads) in one process. The frames: each photo of ``sample_photos.EVALUATION``
(scikit-image's bundled photos; none was used to calibrate the INT8 model), then five of
them pasted small (240 and 160 px high) into a 1280x720 frame of gravel, as a far subject in
the synthetic camera's scene (the gravel is a calibration photo; the subjects are not).

Per frame, as a markdown table: the detections of each model (score >= the detector's
default 0.3), the matches (same label, IoU >= 0.5, greedily from FP32's highest score),
FP32's missed by INT8 and INT8's extra, the mean and largest |score difference| of the
matches, and the median latency of ``detect`` (letterbox, inference, decode) of each over
``--repeats`` runs, the two models alternating so that load from other work on the machine
falls on both.

Verdict ("accuracy holds"): every FP32 detection scoring >= 0.5 is found by INT8, INT8 has no
extra one scoring >= 0.5, and the mean |score difference| is <= 0.05. Detections between 0.3
and 0.5 are counted and shown but not judged: a score change of a few hundredths moves them
across the 0.3 threshold either way (ADR 29). What a camera keeps is also shown: the same
comparison of only the detections at or above a camera's default ``min_score`` (0.4).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from detektor.detection.config import ModelConfig
from detektor.detection.nms import RawDetection, iou
from detektor.detection.onnx_backend import OnnxDetector
from detektor.detection.sample_photos import EVALUATION, photo

CONFIDENT = 0.5
MAX_MEAN_SCORE_DIFF = 0.05
CAMERA_MIN_SCORE = 0.4
"""``CameraSettings.min_score``'s default: what a camera keeps"""
SMALL = (240, 160)
"""pixel heights of the pasted subjects, in a 1280 x 720 frame"""
SUBJECTS = ("astronaut", "camera", "chelsea", "coffee", "motorcycle_left")


@dataclass(slots=True)
class Comparison:
    fp32: int = 0
    int8: int = 0
    diffs: list[float] = field(default_factory=list)
    missed: list[RawDetection] = field(default_factory=list)
    extra: list[RawDetection] = field(default_factory=list)

    def add(self, other: Comparison) -> None:
        self.fp32 += other.fp32
        self.int8 += other.int8
        self.diffs += other.diffs
        self.missed += other.missed
        self.extra += other.extra


def compare(fp32: Sequence[RawDetection], int8: Sequence[RawDetection]) -> Comparison:
    """Greedy matching: each FP32 detection, highest score first, takes the unmatched INT8
    detection of its label with the highest IoU, if that IoU is >= 0.5."""
    result = Comparison(fp32=len(fp32), int8=len(int8))
    free = list(int8)
    for found in sorted(fp32, key=lambda d: -d["score"]):
        same = [d for d in free if d["label"] == found["label"]]
        if not same:
            result.missed.append(found)
            continue
        overlaps = iou(np.array(found["box"]), np.array([d["box"] for d in same]))
        best = int(np.argmax(overlaps))
        if overlaps[best] < 0.5:
            result.missed.append(found)
            continue
        free.remove(same[best])
        result.diffs.append(abs(found["score"] - same[best]["score"]))
    result.extra = free
    return result


def frames() -> list[tuple[str, npt.NDArray[np.uint8]]]:
    """The evaluation photos, then each subject pasted small onto gravel."""
    out = [
        (f"{name} {photo(name).shape[1]}x{photo(name).shape[0]}", photo(name))
        for name in EVALUATION
    ]
    gravel = np.asarray(
        cv2.resize(photo("gravel"), (1280, 720), interpolation=cv2.INTER_LINEAR), dtype=np.uint8
    )
    for name in SUBJECTS:
        subject = photo(name)
        for height in SMALL:
            width = round(subject.shape[1] * height / subject.shape[0])
            frame = gravel.copy()
            frame[300 : 300 + height, 500 : 500 + width] = cv2.resize(
                subject, (width, height), interpolation=cv2.INTER_AREA
            )
            out.append((f"{name} {height} px high in 1280x720", frame))
    return out


def kept(found: Sequence[RawDetection]) -> list[RawDetection]:
    return [d for d in found if d["score"] >= CAMERA_MIN_SCORE]


def timed(detector: OnnxDetector, frame: npt.NDArray[np.uint8]) -> float:
    started = time.perf_counter()
    detector.detect([frame])
    return (time.perf_counter() - started) * 1000


def shown(found: Sequence[RawDetection]) -> str:
    return ", ".join(f"{d['label']} {d['score']:.2f}" for d in found) or "-"


def holds(total: Comparison) -> bool:
    confident_missed = [d for d in total.missed if d["score"] >= CONFIDENT]
    confident_extra = [d for d in total.extra if d["score"] >= CONFIDENT]
    mean = statistics.fmean(total.diffs) if total.diffs else 0.0
    return not confident_missed and not confident_extra and mean <= MAX_MEAN_SCORE_DIFF


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    models = {
        p: OnnxDetector(ModelConfig(precision=p, device="cpu", threads=args.threads))
        for p in ("fp32", "int8")
    }
    print(f"models: {', '.join(m.name for m in models.values())}; {args.threads} threads")
    print(
        "\n| photo | FP32 | INT8 | matched | missed | extra | mean / max abs score diff "
        "| FP32 ms | INT8 ms | INT8/FP32 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    total, camera = Comparison(), Comparison()
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    for name, frame in frames():
        found = {p: m.detect([frame])[0] for p, m in models.items()}
        result = compare(found["fp32"], found["int8"])
        total.add(result)
        camera.add(compare(kept(found["fp32"]), kept(found["int8"])))
        runs: dict[str, list[float]] = {"fp32": [], "int8": []}
        for _ in range(args.repeats):
            for p, model in models.items():
                runs[p].append(timed(model, frame))
        fp32_ms, int8_ms = (statistics.median(runs[p]) for p in ("fp32", "int8"))
        for p in times:
            times[p] += runs[p]
        diffs = (
            f"{statistics.fmean(result.diffs):.3f} / {max(result.diffs):.3f}"
            if result.diffs
            else "-"
        )
        print(
            f"| {name} | {shown(found['fp32'])} "
            f"| {shown(found['int8'])} | {len(result.diffs)} | {shown(result.missed)} "
            f"| {shown(result.extra)} | {diffs} | {fp32_ms:.1f} | {int8_ms:.1f} "
            f"| {int8_ms / fp32_ms:.2f} |"
        )
    fp32_ms, int8_ms = (statistics.median(times[p]) for p in ("fp32", "int8"))
    mean = statistics.fmean(total.diffs) if total.diffs else 0.0
    print(
        f"| **all** | {total.fp32} | {total.int8} | {len(total.diffs)} | {len(total.missed)} "
        f"| {len(total.extra)} | {mean:.3f} / {max(total.diffs, default=0):.3f} "
        f"| {fp32_ms:.1f} | {int8_ms:.1f} | {int8_ms / fp32_ms:.2f} |"
    )
    confident = [d for d in total.missed + total.extra if d["score"] >= CONFIDENT]
    print(
        f"\nspeed-up FP32/INT8 (medians over {len(times['fp32'])} runs each): "
        f"{fp32_ms / int8_ms:.2f}x; confident (>= {CONFIDENT}) missed or extra: "
        f"{shown(confident)}; accuracy holds: {'yes' if holds(total) else 'no'}"
    )
    print(
        f"at a camera's min_score {CAMERA_MIN_SCORE}: FP32 keeps {camera.fp32}, INT8 keeps "
        f"{camera.int8}, both {len(camera.diffs)}; FP32's lost by INT8: {shown(camera.missed)}; "
        f"INT8's not in FP32: {shown(camera.extra)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
