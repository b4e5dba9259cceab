"""`python -m chaos [options]`: the fault-injection run; exits 1 if any check fails."""

import argparse
import json
import sys
import time
from pathlib import Path

from chaos.scenario import ChaosOptions, print_summary, run_chaos


def main(argv: list[str] | None = None) -> int:
    defaults = ChaosOptions()
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--rate", type=float, default=defaults.rate, help="commands/s")
    parser.add_argument("--sessions", type=int, default=defaults.sessions)
    parser.add_argument("--worker-kills", type=int, default=defaults.worker_kills)
    parser.add_argument("--main-kills", type=int, default=defaults.main_kills,
                        help="Celery main process killed alone")
    parser.add_argument("--web-kills", type=int, default=defaults.web_kills,
                        help="gunicorn worker killed mid-request")
    parser.add_argument("--redis-restarts", type=int, default=defaults.redis_restarts)
    parser.add_argument("--redis-down", type=float, default=defaults.redis_down)
    parser.add_argument("--db-outage", type=float, default=defaults.db_outage)
    parser.add_argument("--no-relay-crash", dest="relay_crash", action="store_false")
    parser.add_argument("--pause", type=float, default=defaults.pause)
    parser.add_argument("--settle-timeout", type=float, default=defaults.settle_timeout)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", default="bench-results", help="where the JSON report goes")
    options = ChaosOptions(**{k: v for k, v in vars(parser.parse_args(argv)).items()
                              if k != "out"})
    out = Path(parser.parse_args(argv).out)
    print("chaos: starting the system; faults as they happen:", flush=True)
    report = run_chaos(options)
    print_summary(report)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{time.strftime('%Y%m%d-%H%M%S')}-chaos.json"
    path.write_text(json.dumps(report, indent=1, default=str))
    print(f"  report: {path}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
