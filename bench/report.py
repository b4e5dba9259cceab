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


SIDE_TITLES = {
    "orderwire": "orderwire: POST -> websocket",
    "tutorial": "tutorial: POST -> websocket",
    "celery": "bare Celery no-op",
}


def plot_latency(results: dict[str, Any], path: Path) -> Path | None:
    """Latency over time at the fixed rate, each run's sides side by side."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib is not installed; no plot (pip install -e '.[bench]')")
        return None
    runs = results["runs"]
    figure, axes = plt.subplots(1, len(SIDE_TITLES), figsize=(14, 3.6), sharey=True)
    rate = runs[0]["orderwire_latency"].get("rate_per_s")
    for axis, (side, title) in zip(axes, SIDE_TITLES.items(), strict=True):
        for run in runs:
            timeline = run[f"{side}_latency"]["timeline"]
            if timeline:
                xs, ys = zip(*timeline, strict=True)
                axis.plot(xs, ys, ".", markersize=2, label=f"run {run['run']}")
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
    rate = f"{options['rate']:g}/s"
    print(f"\norderwire vs the tutorial vs bare Celery ({results['database']}, "
          f"{options['worker_concurrency']} worker processes each, {options['concurrency']} "
          f"concurrent users, {options['duration']:g} s phases, {len(runs)} runs; medians; "
          "ratios are medians of each run's orderwire / baseline)")
    if options.get("preload"):
        print(f"  orderwire's database preloaded with {options['preload']} finished commands, "
              f"orders and published events ({results.get('preload_seconds')} s)")
    rows = [
        ("throughput (commands/s)", "throughput_per_s", "throughput"),
        ("CPU per command (ms)", "cpu_ms_total", "cpu"),
        ("one at a time p50 (ms)", "single_p50_ms", "single_p50"),
        ("one at a time p99 (ms)", "single_p99_ms", None),
        (f"p50 at {rate} (ms)", "p50_ms", "p50"),
        (f"p95 at {rate} (ms)", "p95_ms", None),
        (f"p99 at {rate} (ms)", "p99_ms", "p99"),
        (f"202 p50 at {rate} (ms)", "answer_p50_ms", None),
        (f"202 p99 at {rate} (ms)", "answer_p99_ms", None),
    ]
    ratios = summary["ratios"]
    print(f"  {'':26} {'orderwire':>10} {'tutorial':>10} {'celery':>10} "
          f"{'vs tutorial':>12} {'vs celery':>10}")
    for label, key, ratio_key in rows:
        values = [_num(summary[side].get(key)) for side in SIDE_TITLES]
        versus = [_num(ratios.get(f"{ratio_key}_vs_{b}")) if ratio_key else ""
                  for b in ("tutorial", "celery")]
        print(f"  {label:26} {values[0]:>10} {values[1]:>10} {values[2]:>10} "
              f"{versus[0]:>12} {versus[1]:>10}")
    celery = summary["celery"]
    print(f"  bare Celery, enqueue -> signal from inside the task: one at a time p50 "
          f"{_num(celery['signal_single_p50_ms'])} ms; at {rate} p50/p95/p99 "
          f"{_num(celery['signal_p50_ms'])} / {_num(celery['signal_p95_ms'])} / "
          f"{_num(celery['signal_p99_ms'])} ms")
    print(f"  orderwire idempotent replay p50/p99: {_num(summary['replay_p50_ms'])} / "
          f"{_num(summary['replay_p99_ms'])} ms;  lost: {summary['lost']}")
    _print_cpu_per_command(summary["cpu_ms_per_command"])
    for run in runs:
        print(f"  run {run['run']} (order {', '.join(run['order'])}): ratios {run['ratios']}")


WORKER_OF_SIDE = {"orderwire": "worker", "tutorial": "tutorial", "celery": "noop"}


def _print_cpu_per_command(cpu: dict[str, dict[str, float | None]]) -> None:
    """Where each side's CPU went per command in its throughput phase, and the ceilings that
    follows from it: two cores give 2,000 ms of CPU per second, and a single-threaded
    process (a Celery worker's main process) at most 1,000."""
    print("  CPU per command in the throughput phases (ms, medians):")
    for side, spent_by_component in cpu.items():
        spent = {name: value for name, value in spent_by_component.items() if value}
        busy = {name: value for name, value in spent.items() if value >= 0.05}
        parts = ", ".join(f"{name} {value:.2f}" for name, value in sorted(busy.items()))
        total = sum(spent.values())
        main = spent.get(f"{WORKER_OF_SIDE.get(side, side)} main")
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
