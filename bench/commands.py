"""The commands benchmark: orderwire and bare Celery, phase by phase, in one run.

Each run has four timed phases and a replay probe:
1. throughput, closed loop: `concurrency` users, each sends its next command when
   the last one completed (orderwire: its OrderPlaced reached the websocket;
   Celery: the no-op task's task-succeeded event arrived);
2. the same for the Celery baseline;
3. latency, open loop at `rate` commands per second (arrivals don't wait);
4. the same for the baseline;
5. idempotent replays: completed commands POSTed again, one at a time.
Runs alternate which side goes first, so neither always gets the warmer machine.
"""

import asyncio
import tempfile
import time
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
from bench.system import BenchSystem, database_kind, private_database


@dataclass
class CommandsOptions:
    runs: int = 3
    duration: float = 10.0
    rate: float = 50.0
    concurrency: int = 16
    worker_concurrency: int = 2
    replays: int = 100


def _phase(samples: list[Sample], started: float, ended: float, warmup: float,
           cpu: dict[str, float]) -> dict[str, Any]:
    delivered = [s.latency for s in samples if s.latency is not None]
    answered = [s.answer_latency for s in samples if s.answer_latency is not None]
    return {
        "sent": len(samples),
        "accepted": sum(1 for s in samples if s.status == 202),
        "completed": len(delivered),
        "lost": sum(1 for s in samples if s.status == 202 and s.delivered is None),
        "throughput_per_s": round(throughput(samples, started, ended, warmup), 1),
        "latency": latency_summary(delivered),
        "answer_latency": latency_summary(answered),
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

    async def run(self) -> list[dict[str, Any]]:
        options = self.options
        async with new_http_session() as http:
            self.sessions = await open_sessions(http, self.system.base_url, options.concurrency)
            baseline = CeleryBaseline(self.system.redis.url, options.concurrency)
            await baseline.start()
            await self._warm_up()
            runs = []
            try:
                for index in range(options.runs):
                    runs.append(await self._one_run(index, baseline))
            finally:
                baseline.stop()
                for session in self.sessions:
                    await session.close()
        return runs

    async def _warm_up(self) -> None:
        # First requests pay for imports, connection pools and SQLite's page cache.
        await closed_loop(self._orderwire, self.options.concurrency, 2.0)

    def _orderwire(self, index: int):  # type: ignore[no-untyped-def]
        return self.sessions[index % len(self.sessions)].place_order()

    async def _throughput(self, action: Any) -> dict[str, Any]:
        meter = CpuMeter(self.system.process_trees)
        started = time.perf_counter()
        samples = await closed_loop(action, self.options.concurrency, self.options.duration)
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
        sides = [("orderwire", self._orderwire), ("celery", baseline.run_one)]
        if index % 2:
            sides.reverse()
        result: dict[str, Any] = {"run": index + 1}
        for name, action in sides:
            result[f"{name}_throughput"] = await self._throughput(action)
            await asyncio.sleep(1.0)  # let queues drain and the machine settle
        for name, action in sides:
            result[f"{name}_latency"] = await self._latency(action)
            await asyncio.sleep(1.0)
        samples = result["orderwire_latency"].pop("samples")
        result["celery_latency"].pop("samples")
        result["replay"] = await self._replays(samples)
        result["ratios"] = run_ratios(result)
        return result


def run_ratios(result: dict[str, Any]) -> dict[str, float | None]:
    ours, theirs = result["orderwire_latency"]["latency"], result["celery_latency"]["latency"]
    return {
        "throughput": ratio(result["orderwire_throughput"]["throughput_per_s"],
                            result["celery_throughput"]["throughput_per_s"]),
        "p50_latency": ratio(ours["p50_ms"], theirs["p50_ms"]),
        "p99_latency": ratio(ours["p99_ms"], theirs["p99_ms"]),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(*path: str) -> float | None:
        values = []
        for run in runs:
            value: Any = run
            for step in path:
                value = value[step]
            values.append(value)
        return median_of(values)

    return {
        "orderwire_throughput_per_s": med("orderwire_throughput", "throughput_per_s"),
        "celery_throughput_per_s": med("celery_throughput", "throughput_per_s"),
        "throughput_ratio": med("ratios", "throughput"),
        "orderwire_p50_ms": med("orderwire_latency", "latency", "p50_ms"),
        "orderwire_p95_ms": med("orderwire_latency", "latency", "p95_ms"),
        "orderwire_p99_ms": med("orderwire_latency", "latency", "p99_ms"),
        "orderwire_answer_p50_ms": med("orderwire_latency", "answer_latency", "p50_ms"),
        "orderwire_answer_p99_ms": med("orderwire_latency", "answer_latency", "p99_ms"),
        "celery_p50_ms": med("celery_latency", "latency", "p50_ms"),
        "celery_p95_ms": med("celery_latency", "latency", "p95_ms"),
        "celery_p99_ms": med("celery_latency", "latency", "p99_ms"),
        "p50_latency_ratio": med("ratios", "p50_latency"),
        "p99_latency_ratio": med("ratios", "p99_latency"),
        "replay_p50_ms": med("replay", "latency", "p50_ms"),
        "replay_p99_ms": med("replay", "latency", "p99_ms"),
        "cpu_ms_per_command": {
            side: {
                name: median_of([run[f"{side}_throughput"]["cpu_ms_per_command"].get(name)
                                 for run in runs])
                for name in runs[0][f"{side}_throughput"]["cpu_ms_per_command"]
            }
            for side in ("orderwire", "celery")
        },
        "lost": sum(run[f"{side}_{phase}"]["lost"] for run in runs
                    for side in ("orderwire", "celery") for phase in ("throughput", "latency")),
    }


def run_commands_benchmark(options: CommandsOptions, env: dict[str, str], *,
                           web_log_level: str = "INFO") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="orderwire-bench-") as workdir, \
            private_database(Path(workdir)) as database_url:
        system = BenchSystem(Path(workdir), database_url=database_url,
                             worker_concurrency=options.worker_concurrency, env=env,
                             web_log_level=web_log_level)
        with system:
            system.start_noop_worker(options.worker_concurrency)
            runs = asyncio.run(CommandsBenchmark(system, options).run())
    return {
        "mode": "commands",
        "database": database_kind(database_url),
        "options": vars(options),
        "web_log_level": web_log_level,
        "runs": runs,
        "summary": summarise(runs),
    }
