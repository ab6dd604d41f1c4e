"""What the stack test prints: a line per step with its duration, and the findings, each a
named check that passed or failed with its evidence. The run fails when any finding does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_START = time.monotonic()


def stamp() -> str:
    elapsed = int(time.monotonic() - _START)
    return f"[{elapsed // 60:02d}:{elapsed % 60:02d}]"


def say(text: str) -> None:
    print(f"{stamp()} {text}", flush=True)


@contextmanager
def step(title: str) -> Iterator[None]:
    say(f"==> {title}")
    started = time.monotonic()
    yield
    say(f"    done in {time.monotonic() - started:.0f} s")


@dataclass
class Findings:
    """Every check of the run, in order; ``failed`` names those that did not hold."""

    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str) -> bool:
        self.results.append((name, ok, detail))
        say(f"    {'PASS' if ok else 'FAIL'}  {name}: {detail}")
        return ok

    @property
    def failed(self) -> list[str]:
        return [name for name, ok, _ in self.results if not ok]

    def summary(self) -> str:
        lines = ["", "Stack test findings:"]
        for name, ok, detail in self.results:
            lines.append(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
        verdict = "FAIL: " + ", ".join(self.failed) if self.failed else "PASS"
        lines.append(f"Verdict: {verdict}")
        return "\n".join(lines)


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table, columns padded to their widest cell."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)
