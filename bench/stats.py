"""Summaries of latency samples and rates: percentiles, medians across runs, ratios."""

import math
import statistics
from collections.abc import Sequence
from typing import Any


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (no interpolation): a value that was really observed."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, Any]:
    """p50/p95/p99/max in milliseconds, and how many samples they rest on."""
    as_ms = [value * 1000 for value in seconds]

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "samples": len(as_ms),
        "p50_ms": ms(percentile(as_ms, 0.50)),
        "p95_ms": ms(percentile(as_ms, 0.95)),
        "p99_ms": ms(percentile(as_ms, 0.99)),
        "max_ms": ms(max(as_ms) if as_ms else None),
    }


def median_of(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 3) if present else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)
