"""Frame-bus throughput: RedisFrameBus against raw redis-py on the same payloads and Redis.

    .venv/bin/python bench/pipeline_bus.py [--frames 5000] [--batch 50] [--repeat 3]
        [--redis-url redis://127.0.0.1:6379/0]
    .venv/bin/python bench/pipeline_bus.py --payload   # the numbers behind ADR 8

One real 640x480 JPEG (scikit-image's astronaut, resized, quality 85) is encoded once and its
bytes reused for every frame. Each round publishes ``--batch`` frames one by one, consumes them
in one read and acknowledges them, like a capture feeding a processor in steady state:

- bus: ``publish`` (MULTI: XADD + the cap script), ``consume`` (XREADGROUP + FrameMessage
  parsing), ``ack`` (XDEL+XACK in one pipeline);
- raw: XADD, XREADGROUP, and XACK+XDEL in one pipeline (the same deletion, for fairness).

Both run in this process on one asyncio redis-py client (hiredis when installed), alternating,
best of ``--repeat``. Prints frames/s for both and the ratio bus/raw (target >= 0.7). Keys
live under a unique prefix and are deleted at the end. Progress goes to stderr.

``--payload`` measures ADR 8 instead: JPEG sizes at quality 85 (640x480, and a 1920x1080
mosaic of sample images), and publish+consume+ack with the JPEG inline in the entry against
SET key + XADD reference + MGET (+ DEL on ack), raw redis-py both.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid

import cv2
from redis.asyncio import Redis
from skimage import data

from detektor.adapters.redis_bus import RedisFrameBus
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage

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


async def run_bus(redis: Redis, stream: str, frames: list[FrameMessage], batch: int) -> float:
    bus = RedisFrameBus(redis, stream, "bench", cap=max(1000, 2 * batch))
    started = time.perf_counter()
    for first in range(0, len(frames), batch):
        for message in frames[first : first + batch]:
            assert (await bus.publish(message)).entry_id is not None
        got = await bus.consume("c1", batch, 1000)
        assert all(d.message is not None for d in got)
        await bus.ack([d.entry_id for d in got])
    elapsed = time.perf_counter() - started
    assert await bus.backlog() == (0, 0)
    return len(frames) / elapsed


async def run_raw(redis: Redis, stream: str, frames: list[FrameMessage], batch: int) -> float:
    await redis.xgroup_create(stream, "bench", id="0", mkstream=True)
    payloads = [m.to_fields() for m in frames]
    started = time.perf_counter()
    for first in range(0, len(payloads), batch):
        for fields in payloads[first : first + batch]:
            await redis.xadd(stream, fields)  # type: ignore[arg-type]
        reply = await redis.xreadgroup("bench", "c1", {stream: ">"}, count=batch, block=1000)
        ids = [entry_id for _, entries in reply for entry_id, _ in entries]
        pipe = redis.pipeline(transaction=False)
        pipe.xack(stream, "bench", *ids)
        pipe.xdel(stream, *ids)
        await pipe.execute()
    elapsed = time.perf_counter() - started
    assert await redis.xlen(stream) == 0
    return len(payloads) / elapsed


async def inline(redis: Redis, stream: str, jpeg: bytes, frames: int, batch: int) -> float:
    """ADR 8, option A: the JPEG inside the stream entry."""
    await redis.xgroup_create(stream, "study", id="0", mkstream=True)
    started = time.perf_counter()
    for first in range(0, frames, batch):
        for i in range(first, first + batch):
            await redis.xadd(stream, {b"frame_id": b"%d" % i, b"jpeg": jpeg})
        reply = await redis.xreadgroup("study", "c1", {stream: ">"}, count=batch)
        entries = [entry for _, got in reply for entry in got]
        assert all(len(fields[b"jpeg"]) == len(jpeg) for _, fields in entries)
        ids = [entry_id for entry_id, _ in entries]
        pipe = redis.pipeline(transaction=False)
        pipe.xdel(stream, *ids)
        pipe.xack(stream, "study", *ids)
        await pipe.execute()
    return frames / (time.perf_counter() - started)


async def by_reference(redis: Redis, stream: str, jpeg: bytes, frames: int, batch: int) -> float:
    """ADR 8, option B: SET the JPEG under its own key, XADD a reference, GET it back."""
    await redis.xgroup_create(stream, "study", id="0", mkstream=True)
    started = time.perf_counter()
    for first in range(0, frames, batch):
        for i in range(first, first + batch):
            key = f"{stream}:jpeg:{i}"
            pipe = redis.pipeline(transaction=False)  # one round trip, as inline has
            pipe.set(key, jpeg, px=60_000)
            pipe.xadd(stream, {b"frame_id": b"%d" % i, b"jpeg_key": key})
            await pipe.execute()
        reply = await redis.xreadgroup("study", "c1", {stream: ">"}, count=batch)
        entries = [entry for _, got in reply for entry in got]
        keys = [fields[b"jpeg_key"] for _, fields in entries]
        assert all(len(blob) == len(jpeg) for blob in await redis.mget(keys))
        ids = [entry_id for entry_id, _ in entries]
        pipe = redis.pipeline(transaction=False)
        pipe.xdel(stream, *ids)
        pipe.xack(stream, "study", *ids)
        pipe.delete(*keys)
        await pipe.execute()
    return frames / (time.perf_counter() - started)


async def payload_study(redis: Redis, prefix: str, args: argparse.Namespace) -> None:
    print(f"payload study (ADR 8), JPEG quality 85, batches of {args.batch}, best of ", end="")
    print(f"{args.repeat}")
    for label, jpeg in (("640x480", jpeg_640x480()), ("1920x1080", jpeg_1080p_mosaic())):
        frames = args.frames if len(jpeg) < 100_000 else args.frames // 4
        best = {"inline": 0.0, "reference": 0.0}
        for attempt in range(args.repeat):
            for name, run in (("inline", inline), ("reference", by_reference)):
                fps = await run(
                    redis, f"{prefix}:{label}:{name}:{attempt}", jpeg, frames, args.batch
                )
                best[name] = max(best[name], fps)
                print(f"  {label} round {attempt + 1} {name}: {fps:,.0f} frames/s", file=sys.stderr)
        print(f"  {label}: {len(jpeg):,} bytes; ", end="")
        print(
            f"inline {best['inline']:,.0f} frames/s ({1e6 / best['inline']:.0f} us/frame), "
            f"by reference {best['reference']:,.0f} frames/s "
            f"({1e6 / best['reference']:.0f} us/frame), inline/reference "
            f"{best['inline'] / best['reference']:.2f}"
        )


async def main(args: argparse.Namespace) -> None:
    jpeg = jpeg_640x480()
    frames = messages(jpeg, args.frames)
    prefix = f"detektor-bench-{uuid.uuid4().hex[:10]}"
    redis = Redis.from_url(args.redis_url)
    best = {"bus": 0.0, "raw": 0.0}
    try:
        await redis.ping()
        if args.payload:
            await payload_study(redis, prefix, args)
            return
        for attempt in range(args.repeat):
            for name, run in (("raw", run_raw), ("bus", run_bus)):
                stream = f"{prefix}:{name}:{attempt}"
                fps = await run(redis, stream, frames, args.batch)
                best[name] = max(best[name], fps)
                print(f"  round {attempt + 1} {name}: {fps:,.0f} frames/s", file=sys.stderr)
    finally:
        keys = [key async for key in redis.scan_iter(f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
    if args.payload:
        return
    ratio = best["bus"] / best["raw"]
    print(f"frame bus, {args.frames} frames of a 640x480 JPEG ({len(jpeg):,} bytes), ", end="")
    print(f"batches of {args.batch}, best of {args.repeat}")
    print(f"  raw redis-py XADD/XREADGROUP/XACK+XDEL: {best['raw']:,.0f} frames/s")
    print(f"  RedisFrameBus publish/consume/ack:      {best['bus']:,.0f} frames/s")
    verdict = "OK" if ratio >= TARGET else "BELOW TARGET"
    print(f"  ratio bus/raw: {ratio:.2f} (target >= {TARGET}) {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--payload", action="store_true", help="ADR 8: inline vs by reference")
    asyncio.run(main(parser.parse_args()))
