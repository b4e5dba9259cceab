"""Results out: a JSON file and a small PNG under bench-results/, and a table on stdout."""

import json
import platform
import time
from pathlib import Path
from typing import Any

import psutil


def machine() -> dict[str, Any]:
    return {
        "cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(results: dict[str, Any], directory: Path, stem: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.json"
    path.write_text(json.dumps({"machine": machine(), **results}, indent=1))
    return path


def stem(mode: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{mode}"


def plot_latency(results: dict[str, Any], path: Path) -> Path | None:
    """Latency over time at the fixed rate, each run's orderwire and Celery side by side."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib is not installed; no plot (pip install -e '.[bench]')")
        return None
    runs = results["runs"]
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for axis, side in zip(axes, ("orderwire", "celery"), strict=True):
        for run in runs:
            timeline = run[f"{side}_latency"]["timeline"]
            if timeline:
                xs, ys = zip(*timeline, strict=True)
                axis.plot(xs, ys, ".", markersize=2, label=f"run {run['run']}")
        title = "orderwire: POST -> websocket" if side == "orderwire" else "bare Celery no-op"
        rate = runs[0]["orderwire_latency"].get("rate_per_s")
        axis.set_title(f"{title} at {rate:g}/s", fontsize=10)
        axis.set_xlabel("seconds into the phase")
        axis.set_yscale("log")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("latency (ms, log scale)")
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def print_commands_table(results: dict[str, Any]) -> None:
    summary, runs = results["summary"], results["runs"]
    options = results["options"]
    print(f"\norderwire vs bare Celery ({results['database']}, {options['worker_concurrency']} "
          f"worker processes each, {options['concurrency']} concurrent users, "
          f"{options['duration']:g} s phases, {len(runs)} runs; medians)")
    rows = [
        ("throughput (commands/s)", summary["orderwire_throughput_per_s"],
         summary["celery_throughput_per_s"], summary["throughput_ratio"]),
        (f"p50 latency at {options['rate']:g}/s (ms)", summary["orderwire_p50_ms"],
         summary["celery_p50_ms"], summary["p50_latency_ratio"]),
        (f"p95 latency at {options['rate']:g}/s (ms)", summary["orderwire_p95_ms"],
         summary["celery_p95_ms"], None),
        (f"p99 latency at {options['rate']:g}/s (ms)", summary["orderwire_p99_ms"],
         summary["celery_p99_ms"], summary["p99_latency_ratio"]),
    ]
    print(f"  {'':32} {'orderwire':>10} {'celery':>10} {'ratio':>8}")
    for label, ours, theirs, ratio in rows:
        print(f"  {label:32} {_num(ours):>10} {_num(theirs):>10} {_num(ratio):>8}")
    print(f"  202 answer p50/p99 at {options['rate']:g}/s: "
          f"{_num(summary['orderwire_answer_p50_ms'])}"
          f" / {_num(summary['orderwire_answer_p99_ms'])} ms;  idempotent replay p50/p99: "
          f"{_num(summary['replay_p50_ms'])} / {_num(summary['replay_p99_ms'])} ms;  "
          f"lost: {summary['lost']}")
    _print_cpu_per_command(summary["cpu_ms_per_command"])
    for run in runs:
        cpu = run["orderwire_throughput"]["cpu_percent"]
        spent = ", ".join(f"{name} {value:g}%" for name, value in sorted(cpu.items()))
        print(f"  run {run['run']}: ratios {run['ratios']}; "
              f"CPU during orderwire throughput: {spent}")


def _print_cpu_per_command(cpu: dict[str, dict[str, float | None]]) -> None:
    """Where each side's CPU went per command in its throughput phase, and the ceilings that
    follows from it: two cores give 2,000 ms of CPU per second, and a single-threaded
    process (a Celery worker's main process) at most 1,000."""
    print("  CPU per command in the throughput phases (ms, medians):")
    for side, worker in (("orderwire", "worker"), ("celery", "noop")):
        spent = {name: value for name, value in cpu[side].items() if value}
        busy = {name: value for name, value in spent.items() if value >= 0.05}
        parts = ", ".join(f"{name} {value:.2f}" for name, value in sorted(busy.items()))
        total = sum(spent.values())
        main = spent.get(f"{worker} main")
        ceiling = f"; 2 cores allow {2000 / total:.0f}/s" if total else ""
        if main:
            ceiling += f", its Celery main process {1000 / main:.0f}/s"
        print(f"    {side:>9}: {parts}; total {total:.2f}{ceiling}")


def print_fanout_table(results: dict[str, Any]) -> None:
    print(f"\nfan-out on one web process ({results['clients']} websocket clients)")
    print(f"  connections held: {results['connections_held']} (after {results['hold_seconds']} s "
          f"idle: {results['still_open']});  RSS per connection: "
          f"{_num(results['rss_per_connection_kib'])} KiB "
          f"(web worker RSS {results['rss_before_mib']} -> {results['rss_after_mib']} MiB)")
    for pattern in results["patterns"]:
        latency = pattern["latency"]
        print(f"  {pattern['name']:>28}: {pattern['deliveries']} deliveries, "
              f"p50 {_num(latency['p50_ms'])} ms, p99 {_num(latency['p99_ms'])} ms, "
              f"max {_num(latency['max_ms'])} ms, missing {pattern['missing']}")


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:g}"
