"""Frame-bus throughput: RedisFrameBus against raw redis-py on the same payloads and Redis.

    .venv/bin/python bench/pipeline_bus.py [--frames 5000] [--batch 50] [--repeat 5]
        [--redis-url URL]   # default: $TEST_REDIS_URL, else redis://127.0.0.1:6379/0
    .venv/bin/python bench/pipeline_bus.py --payload   # the numbers behind ADR 8

One real 640x480 JPEG (scikit-image's astronaut, resized, quality 85) is encoded once and its
bytes reused for every frame. Each round publishes ``--batch`` frames one by one, consumes them
in one read and acknowledges them, like a capture feeding a processor in steady state:

- bus: ``publish`` (MULTI: XADD + the cap script), ``consume`` (XREADGROUP + FrameMessage
  parsing), ``ack`` (XDEL+XACK in one pipeline);
- raw: XADD, XREADGROUP, and XACK+XDEL in one pipeline (the same deletion, for fairness).

Both run in this process on one asyncio redis-py client (hiredis when installed), alternating
batch by batch so that load drifting on a shared machine hits both alike; the figures are the
median of ``--repeat`` runs. Prints frames/s for both and the ratio bus/raw (target >= 0.7).
Keys live under a unique prefix and are deleted at the end. Progress goes to stderr.

``--payload`` measures ADR 8 instead: JPEG sizes at quality 85 (640x480, and a 1920x1080
mosaic of sample images), and publish+consume+ack with the JPEG inline in the entry against
SET key + XADD reference (one pipeline) + MGET (+ DEL on ack), raw redis-py both.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import cv2
from redis.asyncio import Redis
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from detektor.adapters.redis_bus import RedisFrameBus
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from support.redis import REDIS_URL  # TEST_REDIS_URL, as the tests use

TARGET = 0.7
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def jpeg_640x480(quality: int = 85) -> bytes:
    image = cv2.resize(data.astronaut(), (640, 480), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return encoded.tobytes()


def jpeg_1080p_mosaic(quality: int = 85) -> bytes:
    """A 1920x1080 frame with real detail everywhere: four sample images, 960x540 each
    (an upscaled single image would be smoother than a camera frame, and compress better)."""
    tiles = [
        cv2.resize(image, (960, 540), interpolation=cv2.INTER_AREA)
        for image in (data.astronaut(), data.chelsea(), data.coffee(), data.rocket())
    ]
    mosaic = cv2.vconcat([cv2.hconcat(tiles[:2]), cv2.hconcat(tiles[2:])])
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(mosaic, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return encoded.tobytes()


def messages(jpeg: bytes, count: int) -> list[FrameMessage]:
    start = int(time.time() * 1000)
    return [
        FrameMessage(
            FrameId.make("bench", start + i * 200, i),
            start + i * 200,
            i,
            640,
            480,
            jpeg,
            TRACEPARENT,
        )
        for i in range(count)
    ]


Round = Callable[[Redis, str, list[FrameMessage]], Awaitable[None]]


async def bus_round(redis: Redis, stream: str, frames: list[FrameMessage]) -> None:
    """Publish, consume and acknowledge one batch through RedisFrameBus."""
    bus = RedisFrameBus(redis, stream, "bench", cap=max(1000, 2 * len(frames)))
    for message in frames:
        assert (await bus.publish(message)).entry_id is not None
    got = await bus.consume("c1", len(frames), 1000)
    assert len(got) == len(frames)
    assert all(d.message is not None for d in got)
    await bus.ack([d.entry_id for d in got])


async def raw_round(redis: Redis, stream: str, frames: list[FrameMessage]) -> None:
    """The same batch with plain redis-py commands, no parsing, no cap."""
    for message in frames:
        await redis.xadd(stream, message.to_fields())  # type: ignore[arg-type]
    reply = await redis.xreadgroup("bench", "c1", {stream: ">"}, count=len(frames), block=1000)
    ids = [entry_id for _, entries in reply for entry_id, _ in entries]
    assert len(ids) == len(frames)
    pipe = redis.pipeline(transaction=False)
    pipe.xack(stream, "bench", *ids)
    pipe.xdel(stream, *ids)
    await pipe.execute()


def inline_round(jpeg: bytes) -> Round:
    """ADR 8, option A: the JPEG inside the stream entry."""

    async def run(redis: Redis, stream: str, frames: list[FrameMessage]) -> None:
        for message in frames:
            await redis.xadd(stream, {b"frame_id": str(message.frame_id), b"jpeg": jpeg})
        reply = await redis.xreadgroup("bench", "c1", {stream: ">"}, count=len(frames))
        entries = [entry for _, got in reply for entry in got]
        assert all(len(fields[b"jpeg"]) == len(jpeg) for _, fields in entries)
        ids = [entry_id for entry_id, _ in entries]
        pipe = redis.pipeline(transaction=False)
        pipe.xdel(stream, *ids)
        pipe.xack(stream, "bench", *ids)
        await pipe.execute()

    return run


def reference_round(jpeg: bytes) -> Round:
    """ADR 8, option B: SET the JPEG under its own key, XADD a reference, MGET it back."""

    async def run(redis: Redis, stream: str, frames: list[FrameMessage]) -> None:
        for message in frames:
            key = f"{stream}:jpeg:{message.frame_id}"
            pipe = redis.pipeline(transaction=False)  # one round trip, as inline has
            pipe.set(key, jpeg, px=60_000)
            pipe.xadd(stream, {b"frame_id": str(message.frame_id), b"jpeg_key": key})
            await pipe.execute()
        reply = await redis.xreadgroup("bench", "c1", {stream: ">"}, count=len(frames))
        entries = [entry for _, got in reply for entry in got]
        keys = [fields[b"jpeg_key"] for _, fields in entries]
        assert all(len(blob) == len(jpeg) for blob in await redis.mget(keys))
        ids = [entry_id for entry_id, _ in entries]
        pipe = redis.pipeline(transaction=False)
        pipe.xdel(stream, *ids)
        pipe.xack(stream, "bench", *ids)
        pipe.delete(*keys)
        await pipe.execute()

    return run


async def compare(
    redis: Redis,
    prefix: str,
    rounds: Mapping[str, Round],
    frames: list[FrameMessage],
    batch: int,
) -> dict[str, float]:
    """Frames/s of each side, run batch by batch in alternation so that the load of this
    shared machine drifting over time weighs on every side alike."""
    elapsed = dict.fromkeys(rounds, 0.0)
    for name in rounds:
        await redis.xgroup_create(f"{prefix}:{name}", "bench", id="0", mkstream=True)
    names = list(rounds)
    for index, first in enumerate(range(0, len(frames), batch)):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            started = time.perf_counter()
            await rounds[name](redis, f"{prefix}:{name}", frames[first : first + batch])
            elapsed[name] += time.perf_counter() - started
    return {name: len(frames) / seconds for name, seconds in elapsed.items()}


async def throughput(redis: Redis, prefix: str, args: argparse.Namespace) -> None:
    jpeg = jpeg_640x480()
    frames = messages(jpeg, args.frames)
    results = []
    for attempt in range(args.repeat):
        rounds = {"raw": raw_round, "bus": bus_round}
        fps = await compare(redis, f"{prefix}:{attempt}", rounds, frames, args.batch)
        results.append(fps)
        print(
            f"  run {attempt + 1}: raw {fps['raw']:,.0f}, bus {fps['bus']:,.0f} frames/s, "
            f"ratio {fps['bus'] / fps['raw']:.2f}",
            file=sys.stderr,
        )
    raw = statistics.median(r["raw"] for r in results)
    bus = statistics.median(r["bus"] for r in results)
    ratio = statistics.median(r["bus"] / r["raw"] for r in results)
    print(f"frame bus, {args.frames} frames of a 640x480 JPEG ({len(jpeg):,} bytes), ", end="")
    print(f"batches of {args.batch}, median of {args.repeat} interleaved runs")
    print(f"  raw redis-py XADD/XREADGROUP/XACK+XDEL: {raw:,.0f} frames/s")
    print(f"  RedisFrameBus publish/consume/ack:      {bus:,.0f} frames/s")
    verdict = "OK" if ratio >= TARGET else "BELOW TARGET"
    print(f"  ratio bus/raw: {ratio:.2f} (target >= {TARGET}) {verdict}")


async def payload_study(redis: Redis, prefix: str, args: argparse.Namespace) -> None:
    print(f"payload study (ADR 8), JPEG quality 85, batches of {args.batch}, ", end="")
    print(f"median of {args.repeat} interleaved runs")
    for label, jpeg in (("640x480", jpeg_640x480()), ("1920x1080", jpeg_1080p_mosaic())):
        frames = messages(jpeg, args.frames if len(jpeg) < 100_000 else args.frames // 4)
        rounds = {"inline": inline_round(jpeg), "reference": reference_round(jpeg)}
        results = []
        for attempt in range(args.repeat):
            fps = await compare(redis, f"{prefix}:{label}:{attempt}", rounds, frames, args.batch)
            results.append(fps)
            print(
                f"  {label} run {attempt + 1}: inline {fps['inline']:,.0f}, "
                f"reference {fps['reference']:,.0f} frames/s",
                file=sys.stderr,
            )
        inline = statistics.median(r["inline"] for r in results)
        reference = statistics.median(r["reference"] for r in results)
        print(
            f"  {label}: {len(jpeg):,} bytes; inline {inline:,.0f} frames/s "
            f"({1e6 / inline:.0f} us/frame), by reference {reference:,.0f} frames/s "
            f"({1e6 / reference:.0f} us/frame), inline/reference {inline / reference:.2f}"
        )


async def main(args: argparse.Namespace) -> None:
    prefix = f"detektor-bench-{uuid.uuid4().hex[:10]}"
    redis = Redis.from_url(args.redis_url)
    try:
        await redis.ping()
        await (payload_study if args.payload else throughput)(redis, prefix, args)
    finally:
        keys = [key async for key in redis.scan_iter(f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--payload", action="store_true", help="ADR 8: inline vs by reference")
    asyncio.run(main(parser.parse_args()))
