"""The benchmark's CPU accounting: milliseconds per command, and the ceilings it prints."""

import pytest

from bench.commands import _phase
from bench.load import Sample
from bench.report import _print_cpu_per_command


def test_cpu_per_command_is_the_phase_cpu_shared_over_the_completed_commands() -> None:
    # 40 commands completed in a 10 s phase; the web used half a core, the pool a whole one.
    samples = [
        Sample(f"k{i}", 1.0 + i * 0.2, 1.05 + i * 0.2, 1.1 + i * 0.2, 202) for i in range(40)
    ]
    samples.append(Sample("lost", 9.0, 9.1, None, 202))  # never delivered: not a completion

    phase = _phase(samples, 0.0, 10.0, 0.0, {"web": 50.0, "worker pool": 100.0})

    assert phase["completed"] == 40
    assert phase["lost"] == 1
    assert phase["cpu_ms_per_command"] == {"web": 125.0, "worker pool": 250.0}


def test_a_phase_with_nothing_completed_has_no_cpu_per_command() -> None:
    phase = _phase([Sample("lost", 1.0, None, None, 503)], 0.0, 10.0, 0.0, {"web": 5.0})

    assert phase["cpu_ms_per_command"] == {}


def test_the_ceilings_come_from_the_total_and_from_the_sides_own_celery_main_process(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _print_cpu_per_command(
        {
            "orderwire": {"web": 6.0, "worker main": 4.0, "worker pool": 8.0, "noop main": 0.01},
            "celery": {"noop main": 2.5, "noop pool": 0.5, "worker main": 0.01, "web": None},
        }
    )
    printed = capsys.readouterr().out

    assert "orderwire: web 6.00, worker main 4.00, worker pool 8.00; total 18.01" in printed
    assert "2 cores allow 111/s, its Celery main process 250/s" in printed
    assert "celery: noop main 2.50, noop pool 0.50; total 3.01" in printed
    assert "2 cores allow 664/s, its Celery main process 400/s" in printed
