"""Resident memory of this process, read from the kernel: now, and the peak since a reset.

Peaks come from the high-water mark (VmHWM), reset through /proc/self/clear_refs before each phase, so a
peak between two samples is never missed. Shared by the worker tasks (cold start, memory, tuner trials).
"""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(key: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float:
    """Resident set size now, in MiB."""
    kb = _status_kb("VmRSS")
    if kb is None:
        import psutil

        return float(psutil.Process().memory_info().rss / 2**20)
    return kb / 1024


def hwm_mb() -> float | None:
    """Peak resident set size since the last reset, in MiB (None where the kernel lacks VmHWM)."""
    kb = _status_kb("VmHWM")
    return None if kb is None else kb / 1024


def reset_hwm() -> bool:
    """Reset the kernel's peak-RSS counter to the current RSS (Linux 4.0+)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True
