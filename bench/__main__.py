"""`python -m bench [commands|fanout|all] [options]`: see docs/benchmarks.md."""

import argparse
import sys
from pathlib import Path

from bench.report import (
    plot_latency,
    print_commands_table,
    print_fanout_table,
    stem,
    write_json,
)

# The benchmark measures orderwire, not its flood guard.
BENCH_ENV = {"ORDERWIRE_RATE_LIMIT": "off"}


def _commands(args: argparse.Namespace, out: Path) -> None:
    from bench.commands import CommandsOptions, run_commands_benchmark

    options = CommandsOptions(
        runs=args.runs, duration=args.duration, rate=args.rate, concurrency=args.concurrency,
        worker_concurrency=args.worker_concurrency, replays=args.replays, preload=args.preload,
    )
    results = run_commands_benchmark(options, BENCH_ENV, web_log_level=args.log_level)
    name = stem("commands")
    results["command_line"] = args.command_line
    json_path = write_json(results, out, name)
    plot = plot_latency(results, out / f"{name}.png")
    print_commands_table(results)
    print(f"  results: {json_path}" + (f", plot: {plot}" if plot else ""))


def _fanout(args: argparse.Namespace, out: Path) -> None:
    from bench.fanout import FanoutOptions, run_fanout_benchmark

    options = FanoutOptions(
        clients=args.clients, client_processes=args.client_processes, events=args.events,
        stream_rate=args.stream_rate, hold_seconds=args.hold,
    )
    results = run_fanout_benchmark(options, BENCH_ENV, web_log_level=args.log_level)
    results["command_line"] = args.command_line
    json_path = write_json(results, out, stem("fanout"))
    print_fanout_table(results)
    print(f"  results: {json_path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("mode", nargs="?", default="commands",
                        choices=["commands", "fanout", "all"])
    parser.add_argument("--out", default="bench-results", help="where JSON and PNG go")
    parser.add_argument("--log-level", default="INFO",
                        help="LOG_LEVEL of the web process (workers stay at INFO)")
    commands = parser.add_argument_group("commands mode")
    commands.add_argument("--runs", type=int, default=3)
    commands.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    commands.add_argument("--rate", type=float, default=50.0, help="commands/s, latency phases")
    commands.add_argument("--concurrency", type=int, default=16, help="users, throughput phases")
    commands.add_argument("--worker-concurrency", type=int, default=2,
                          help="Celery processes, orderwire and baseline alike")
    commands.add_argument("--replays", type=int, default=100)
    commands.add_argument("--preload", type=int, default=0,
                          help="finished commands, orders and published events inserted first")
    fanout = parser.add_argument_group("fanout mode")
    fanout.add_argument("--clients", type=int, default=5000)
    fanout.add_argument("--client-processes", type=int, default=4)
    fanout.add_argument("--events", type=int, default=5, help="broadcast events to everyone")
    fanout.add_argument("--stream-rate", type=float, default=200.0,
                        help="events/s of the per-session stream")
    fanout.add_argument("--hold", type=float, default=16.0,
                        help="seconds the clients stay idle (past the 15 s heartbeat)")
    args = parser.parse_args(argv)
    args.command_line = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out)
    if args.mode in ("commands", "all"):
        _commands(args, out)
    if args.mode in ("fanout", "all"):
        _fanout(args, out)


if __name__ == "__main__":
    main()
