"""The commands benchmark: orderwire, the tutorial implementation and bare Celery, in one run.

Each run measures every side in three timed phases, then probes replays:
1. throughput, closed loop: `concurrency` users, each sends its next command when
   the last one completed (orderwire and the tutorial: its OrderPlaced reached the
   websocket; Celery: the no-op task's task-succeeded event arrived);
2. one at a time: a single user, the same closed loop: latency on an idle system;
3. latency, open loop at `rate` commands per second (arrivals don't wait);
4. orderwire's idempotent replays: completed commands POSTed again, one at a time.
Every phase takes each side in turn, and runs rotate which side goes first, so no side
always gets the warmer machine.
"""

import asyncio
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.baseline import CeleryBaseline
from bench.load import (
    LiveSession,
    Sample,
    closed_loop,
    new_http_session,
    open_loop,
    open_sessions,
    throughput,
)
from bench.resources import CpuMeter
from bench.stats import latency_summary, median_of, ratio
from bench.system import NOOP_REDIS_DB, BenchSystem, database_kind, private_database

SIDES = ("orderwire", "tutorial", "celery")
PHASES = ("throughput", "single", "latency")


@dataclass
class CommandsOptions:
    runs: int = 3
    duration: float = 10.0
    rate: float = 50.0
    concurrency: int = 16
    worker_concurrency: int = 2
    replays: int = 100
    preload: int = 0  # finished commands, orders and published events to insert first


def _phase(samples: list[Sample], started: float, ended: float, warmup: float,
           cpu: dict[str, float]) -> dict[str, Any]:
    delivered = [s.latency for s in samples if s.latency is not None]
    answered = [s.answer_latency for s in samples if s.answer_latency is not None]
    signalled = [s.signal_latency for s in samples if s.signal_latency is not None]
    return {
        "sent": len(samples),
        "accepted": sum(1 for s in samples if s.status == 202),
        "completed": len(delivered),
        "lost": sum(1 for s in samples if s.status == 202 and s.delivered is None),
        "throughput_per_s": round(throughput(samples, started, ended, warmup), 1),
        "latency": latency_summary(delivered),
        "answer_latency": latency_summary(answered),
        # Bare Celery only: enqueue -> the signal sent from inside the task.
        "signal_latency": latency_summary(signalled),
        "cpu_percent": cpu,
        # CPU milliseconds each component spent per completed command over the phase.
        "cpu_ms_per_command": {
            name: round(percent * 10 * (ended - started) / len(delivered), 3)
            for name, percent in cpu.items()
        } if delivered else {},
        "timeline": [
            [round(s.sent - started, 4), round(s.latency * 1000, 2)]
            for s in samples if s.latency is not None
        ],
    }


class CommandsBenchmark:
    def __init__(self, system: BenchSystem, options: CommandsOptions) -> None:
        self.system = system
        self.options = options
        self.sessions: list[LiveSession] = []
        self.tutorial_sessions: list[LiveSession] = []

    async def run(self) -> list[dict[str, Any]]:
        options = self.options
        async with new_http_session() as http:
            self.sessions = await open_sessions(http, self.system.base_url, options.concurrency)
            self.tutorial_sessions = await open_sessions(
                http, self.system.tutorial_url, options.concurrency
            )
            baseline = CeleryBaseline(
                self.system.redis_url_for(NOOP_REDIS_DB), options.concurrency
            )
            await baseline.start()
            await self._warm_up()
            runs = []
            try:
                for index in range(options.runs):
                    runs.append(await self._one_run(index, baseline))
            finally:
                baseline.stop()
                for session in (*self.sessions, *self.tutorial_sessions):
                    await session.close()
        return runs

    async def _warm_up(self) -> None:
        # First requests pay for imports, connection pools and SQLite's page cache.
        await closed_loop(self._orderwire, self.options.concurrency, 2.0)
        await closed_loop(self._tutorial, self.options.concurrency, 2.0)

    def _orderwire(self, index: int) -> Coroutine[Any, Any, Sample]:
        return self.sessions[index % len(self.sessions)].place_order()

    def _tutorial(self, index: int) -> Coroutine[Any, Any, Sample]:
        return self.tutorial_sessions[index % len(self.tutorial_sessions)].place_order()

    async def _throughput(self, action: Any, concurrency: int) -> dict[str, Any]:
        meter = CpuMeter(self.system.process_trees)
        started = time.perf_counter()
        samples = await closed_loop(action, concurrency, self.options.duration)
        ended = started + self.options.duration
        return _phase(samples, started, ended, min(2.0, self.options.duration / 5), meter.stop())

    async def _latency(self, action: Any) -> dict[str, Any]:
        meter = CpuMeter(self.system.process_trees)
        started = time.perf_counter()
        samples = await open_loop(action, self.options.rate, self.options.duration)
        phase = _phase(samples, started, time.perf_counter(), 0.0, meter.stop())
        phase["rate_per_s"] = self.options.rate
        phase["samples"] = samples
        return phase

    async def _replays(self, samples: list[Sample]) -> dict[str, Any]:
        done = [s for s in samples if s.delivered is not None][: self.options.replays]
        timings, all_replayed = [], True
        for index, sample in enumerate(done):
            seconds, replayed = await self.sessions[index % len(self.sessions)].replay(sample.key)
            timings.append(seconds)
            all_replayed = all_replayed and replayed
        return {"latency": latency_summary(timings), "all_answered_as_replays": all_replayed}

    async def _one_run(self, index: int, baseline: CeleryBaseline) -> dict[str, Any]:
        actions = {"orderwire": self._orderwire, "tutorial": self._tutorial,
                   "celery": baseline.run_one}
        order = SIDES[index % len(SIDES):] + SIDES[: index % len(SIDES)]
        result: dict[str, Any] = {"run": index + 1, "order": list(order)}
        for phase in PHASES:
            for side in order:
                if phase == "latency":
                    result[f"{side}_{phase}"] = await self._latency(actions[side])
                else:
                    users = self.options.concurrency if phase == "throughput" else 1
                    result[f"{side}_{phase}"] = await self._throughput(actions[side], users)
                await asyncio.sleep(1.0)  # let queues drain and the machine settle
        samples = result["orderwire_latency"].pop("samples")
        for side in SIDES[1:]:
            result[f"{side}_latency"].pop("samples")
        result["replay"] = await self._replays(samples)
        result["ratios"] = run_ratios(result)
        return result


def _cpu_total(phase: dict[str, Any]) -> float | None:
    spent = phase["cpu_ms_per_command"]
    return round(sum(spent.values()), 3) if spent else None


def run_ratios(result: dict[str, Any]) -> dict[str, float | None]:
    """orderwire against each baseline, in this run: `<measure>_vs_<baseline>`."""
    ratios: dict[str, float | None] = {}
    for baseline in SIDES[1:]:
        ours, theirs = result["orderwire_latency"], result[f"{baseline}_latency"]
        ratios.update({
            f"throughput_vs_{baseline}": ratio(result["orderwire_throughput"]["throughput_per_s"],
                                               result[f"{baseline}_throughput"]["throughput_per_s"]),
            f"cpu_vs_{baseline}": ratio(_cpu_total(result["orderwire_throughput"]),
                                        _cpu_total(result[f"{baseline}_throughput"])),
            f"single_p50_vs_{baseline}": ratio(result["orderwire_single"]["latency"]["p50_ms"],
                                               result[f"{baseline}_single"]["latency"]["p50_ms"]),
            f"p50_vs_{baseline}": ratio(ours["latency"]["p50_ms"], theirs["latency"]["p50_ms"]),
            f"p99_vs_{baseline}": ratio(ours["latency"]["p99_ms"], theirs["latency"]["p99_ms"]),
        })
    return ratios


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(*path: str) -> float | None:
        values = []
        for run in runs:
            value: Any = run
            for step in path:
                value = value[step]
            values.append(value)
        return median_of(values)

    summary: dict[str, Any] = {"ratios": {name: med("ratios", name) for name in runs[0]["ratios"]}}
    for side in SIDES:
        summary[side] = {
            "throughput_per_s": med(f"{side}_throughput", "throughput_per_s"),
            "cpu_ms_total": median_of([_cpu_total(run[f"{side}_throughput"]) for run in runs]),
            **{f"single_{p}_ms": med(f"{side}_single", "latency", f"{p}_ms")
               for p in ("p50", "p95", "p99")},
            **{f"{p}_ms": med(f"{side}_latency", "latency", f"{p}_ms")
               for p in ("p50", "p95", "p99")},
            "answer_p50_ms": med(f"{side}_latency", "answer_latency", "p50_ms"),
            "answer_p99_ms": med(f"{side}_latency", "answer_latency", "p99_ms"),
        }
    summary["celery"].update({
        "signal_single_p50_ms": med("celery_single", "signal_latency", "p50_ms"),
        **{f"signal_{p}_ms": med("celery_latency", "signal_latency", f"{p}_ms")
           for p in ("p50", "p95", "p99")},
    })
    summary["replay_p50_ms"] = med("replay", "latency", "p50_ms")
    summary["replay_p99_ms"] = med("replay", "latency", "p99_ms")
    summary["cpu_ms_per_command"] = {
        side: {
            name: median_of([run[f"{side}_throughput"]["cpu_ms_per_command"].get(name)
                             for run in runs])
            for name in runs[0][f"{side}_throughput"]["cpu_ms_per_command"]
        }
        for side in SIDES
    }
    summary["lost"] = sum(run[f"{side}_{phase}"]["lost"] for run in runs
                          for side in SIDES for phase in PHASES)
    return summary


def _preload(database_url: str, rows: int) -> float | None:
    """History first (`--preload`), so the run shows whether a command's cost grows with it."""
    if not rows:
        return None
    from sqlalchemy import text

    from bench.preload import seed
    from orderwire.db.engine import make_engine

    engine = make_engine(database_url)
    seconds = seed(engine, rows)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()
    print(f"bench: preloaded {rows} commands, orders and events in {seconds:.0f} s")
    return round(seconds, 1)


def run_commands_benchmark(options: CommandsOptions, env: dict[str, str], *,
                           web_log_level: str = "INFO") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="orderwire-bench-") as workdir, \
            private_database(Path(workdir)) as database_url:
        system = BenchSystem(Path(workdir), database_url=database_url,
                             worker_concurrency=options.worker_concurrency, env=env,
                             web_log_level=web_log_level)
        with system:
            preloaded = _preload(database_url, options.preload)
            system.start_flower()
            system.start_noop_worker(options.worker_concurrency)
            system.start_tutorial(options.worker_concurrency)
            runs = asyncio.run(CommandsBenchmark(system, options).run())
    return {
        "mode": "commands",
        "database": database_kind(database_url),
        "options": vars(options),
        "web_log_level": web_log_level,
        "preload_seconds": preloaded,
        "runs": runs,
        "summary": summarise(runs),
    }
