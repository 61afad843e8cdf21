"""How long the event loop's steps take, in CPU time: a blocked loop, measured from inside.

A request's latency seen from outside includes the machine's scheduling, which on a shared
machine can reach a hundred milliseconds with the loop idle. The CPU time of each step the
loop runs (one callback, one slice of a coroutine between two awaits) does not: the longest
step is how long the loop was held. `record_loop_steps()` wraps every step of every loop in
the process; `python -m playbook serve` installs it when `LOOP_STEPS=1` (`make load` sets it)
and prints the longest steps when the process exits.
Does not guarantee: low overhead (two clock reads per step), or figures for steps that run
in other threads.
"""

import asyncio.events
import sys
import time
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

KEPT = 3


@dataclass
class LoopSteps:
    count: int = 0
    longest: list[tuple[float, float, str]] = field(default_factory=list)  # (CPU s, wall s, step)

    def add(self, cpu: float, wall: float, handle: asyncio.Handle) -> None:
        self.count += 1
        if len(self.longest) < KEPT or cpu > self.longest[-1][0]:
            self.longest = sorted([*self.longest, (cpu, wall, repr(handle)[:160])], reverse=True)[:KEPT]

    def report(self) -> str:
        steps = "; ".join(
            f"{cpu * 1000:.1f} ms CPU ({wall * 1000:.1f} ms wall) {step}" for cpu, wall, step in self.longest
        )
        return f"event loop: {self.count} steps, longest: {steps}"


def record_loop_steps() -> LoopSteps:
    """Time every step of every event loop in this process from now on."""
    steps = LoopSteps()
    run = asyncio.events.Handle._run

    def timed_run(handle: asyncio.Handle) -> None:
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            run(handle)
        finally:
            steps.add(time.thread_time() - cpu, time.perf_counter() - wall, handle)

    asyncio.events.Handle._run = timed_run  # type: ignore[method-assign, assignment]
    return steps


def reported_at_shutdown(app: ASGIApp, steps: LoopSteps) -> ASGIApp:
    """`app`, printing the longest loop steps to stderr once its lifespan has shut down."""

    async def reporting(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)

        async def send_then_report(message: Message) -> None:
            await send(message)
            if message["type"] == "lifespan.shutdown.complete":
                print(steps.report(), file=sys.stderr, flush=True)

        await app(scope, receive, send_then_report)

    return reporting
