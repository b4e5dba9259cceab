"""Where the CPU went during a phase: each component's process tree, and the load generator."""

import os
import time
from collections.abc import Callable

import psutil


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


class CpuMeter:
    """`meter = CpuMeter(trees); ...; meter.stop()` -> {component: % of one core}."""

    def __init__(self, trees: Callable[[], dict[str, list[psutil.Process]]]) -> None:
        self.trees = trees
        self.started = time.perf_counter()
        self.before = self._snapshot()

    def _snapshot(self) -> dict[str, float]:
        snapshot = {name: _cpu_seconds(tree) for name, tree in self.trees().items()}
        snapshot["load generator"] = _cpu_seconds([psutil.Process(os.getpid())])
        return snapshot

    def stop(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self.started
        after = self._snapshot()
        return {
            name: round(100 * max(0.0, after[name] - self.before.get(name, 0.0)) / elapsed, 1)
            for name in after
        }
