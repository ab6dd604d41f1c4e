"""The Redis Streams frame bus: ``RedisFrameBus`` (bus.py) and its publish script (script.py).

Its in-memory twin is ``detektor.adapters.memory_bus.MemoryFrameBus``; one contract suite,
``tests/contract/test_frame_bus.py``, runs against both.
"""

from detektor.adapters.redis_bus.bus import RedisFrameBus

__all__ = ["RedisFrameBus"]
