"""Resident memory of a process, read from Linux's /proc: now, at its peak, and a reset of the peak.

Used by the memory runs of `make bench` (`benchmarks/memory.py`) and by `make load` for the
served app. RSS counts the interpreter, its libraries and what the allocator keeps for
reuse, not only live objects.
"""

import os
from pathlib import Path

MIB = 1024 * 1024


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of process `pid` now."""
    resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes(pid: int | str = "self") -> int:
    """The most the process has had resident since it started or since `reset_peak_rss` (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def reset_peak_rss(pid: int | str = "self") -> None:
    """Start VmHWM again from the current RSS (clear_refs, value 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
