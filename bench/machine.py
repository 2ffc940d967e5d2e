"""The machine under the benchmark: versions, CPU, and how busy other processes keep it."""

from __future__ import annotations

import importlib
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PROC_STAT = Path("/proc/stat")
BUSY_WARNING = 0.3  # cores


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment() -> str:
    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    for mod in ("sympy", "torch", "sklearn"):
        try:
            versions.append(f"{mod} {importlib.import_module(mod).__version__}")
        except ImportError:
            versions.append(f"{mod} not installed")
    return f"{cpu_name()}, {os.cpu_count()} cores; " + ", ".join(versions)


def busy_seconds() -> float | None:
    """CPU seconds all processes have used since boot (None where /proc/stat is missing)."""
    if not PROC_STAT.exists():
        return None
    fields = [int(v) for v in PROC_STAT.read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Interference:
    """Cores kept busy by other processes while this one ran (its own CPU time subtracted)."""

    wall0: float = field(default_factory=time.perf_counter)
    own0: float = field(default_factory=time.process_time)
    busy0: float | None = field(default_factory=busy_seconds)

    def cores(self) -> float | None:
        busy1 = busy_seconds()
        if busy1 is None or self.busy0 is None:
            return None
        wall = time.perf_counter() - self.wall0
        others = (busy1 - self.busy0) - (time.process_time() - self.own0)
        return max(others, 0.0) / max(wall, 1e-9)

    def report(self) -> str:
        cores = self.cores()
        if cores is None:
            return ""
        line = f"Other processes kept {cores:.2f} cores busy meanwhile"
        if cores > BUSY_WARNING:
            line += " — WARNING: the timings above are skewed; rerun on an idle machine"
        return line + "."


def idle_check(window_s: float = 0.5) -> str:
    """A warning line if other processes are busy right now, else ''."""
    meter = Interference()
    time.sleep(window_s)
    cores = meter.cores()
    if cores is None or cores <= BUSY_WARNING:
        return ""
    return f"WARNING: {cores:.1f} cores busy with other work at start; timings will be skewed."
