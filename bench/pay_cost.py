"""What a PayOrder costs in Celery tasks and CPU, with the sales ledger's after-commit subscriber.

`PYTHONPATH=$PWD .venv/bin/python bench/pay_cost.py --orders 150` starts the whole
system (tests/harness.py: gunicorn, one Celery worker, the relay, a private Redis,
SQLite), places the orders, then pays them all and waits until the sales ledger has
booked every payment. It counts the tasks the worker received during the paying phase
(its "Task … received" lines, by name) and the CPU that web, worker (with its pool) and
relay used in it. It only uses the HTTP API and the `sales_ledger` table, so it measures
older code too: run this file with `PYTHONPATH` pointing at a `git archive` of it.
"""

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func, select

from orderwire.db.engine import make_engine
from orderwire.db.tables import sales_ledger
from tools.harness.system import System
from tools.harness.waiting import wait_for

RECEIVED = re.compile(r"Task (orderwire\.[\w.]+)\[[^\]]*\] received")
ORDER = {"customer_name": "Bench", "lines": [{"product": "tea", "quantity": 1, "unit_price": "2"}]}


def cpu_seconds(system: System, names: list[str]) -> dict[str, float]:
    used = {}
    for name in names:
        process = psutil.Process(system.processes[name].pid)
        family = [process, *process.children(recursive=True)]
        used[name] = sum(sum(member.cpu_times()[:4]) for member in family)
    return used


def tasks_received(log: Path) -> Counter[str]:
    return Counter(RECEIVED.findall(log.read_text(errors="replace")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    with System(Path(tempfile.mkdtemp(prefix="pay-cost-"))) as system:
        engine = make_engine(system.database_url)
        browser = system.new_session()

        def send(path: str, body: dict[str, Any]) -> dict[str, Any]:
            answer = system.api(browser).post(path, body)
            assert answer.status_code == 202, answer.text
            return answer.json()

        with ThreadPoolExecutor(max_workers=4) as pool:
            placed = list(pool.map(lambda _: send("/api/orders", ORDER), range(args.orders)))
            for answer in placed:
                system.api(browser).wait_until_final(answer["request_id"], timeout=120)
            tasks_before = tasks_received(system.logs / "worker.log")
            processes = ["web", "worker", "relay"]
            cpu_before = cpu_seconds(system, processes)
            paid = list(pool.map(
                lambda answer: send(f"/api/orders/{answer['order_id']}/pay", {}), placed
            ))
        for answer in paid:
            system.api(browser).wait_until_final(answer["request_id"], timeout=120)

        def booked() -> int:
            with engine.connect() as connection:
                return connection.execute(
                    select(func.coalesce(func.sum(sales_ledger.c.orders_paid), 0))
                ).scalar_one()

        wait_for(lambda: booked() == args.orders, timeout=300, what="the ledger to book all")
        cpu_after = cpu_seconds(system, processes)
        tasks = tasks_received(system.logs / "worker.log") - tasks_before
        engine.dispose()
    report = {
        "orders": args.orders,
        "tasks_per_pay_order": {name: count / args.orders for name, count in tasks.items()},
        "celery_tasks_per_pay_order": sum(tasks.values()) / args.orders,
        "cpu_ms_per_pay_order": {
            name: round((cpu_after[name] - cpu_before[name]) * 1000 / args.orders, 2)
            for name in processes
        },
    }
    report["cpu_ms_per_pay_order"]["all"] = round(sum(report["cpu_ms_per_pay_order"].values()), 2)
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
