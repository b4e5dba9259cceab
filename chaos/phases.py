"""The run, fault by fault: what happened to the commands sent while each fault was on.

A phase is one fault and the traffic that followed it until the next one (its effects
play out there: redeliveries, the sweeper, reconnects). For each phase:

- sent: commands whose first try began in the phase;
- accepted: of those, answered 202 (after as many tries as it took);
- final: of the accepted, the ones that reached a final status;
- lost: accepted but not final, or with no row at all;
- doubled: accepted, and with events that are not exactly its outcome's (one domain
  event and one notification, or one verdict): a second effect, or a missing one;
- 5xx: answers to commands and reads in the phase with a 5xx status, and how many of
  them were not a 503 with Retry-After.
"""

import time
from dataclasses import dataclass, field
from typing import Any

from chaos.checks import wrong_effects
from chaos.traffic import Answer, Sent


@dataclass
class Phase:
    name: str
    detail: str
    started: float  # time.time()
    ended: float = 0.0
    notes: list[str] = field(default_factory=list)


class Timeline:
    def __init__(self) -> None:
        self.phases: list[Phase] = []

    def begin(self, name: str, detail: str = "") -> Phase:
        now = time.time()
        if self.phases and not self.phases[-1].ended:
            self.phases[-1].ended = now
        self.phases.append(Phase(name, detail, now))
        return self.phases[-1]

    def end(self) -> None:
        if self.phases and not self.phases[-1].ended:
            self.phases[-1].ended = time.time()


def report(phases: list[Phase], sent: list[Sent], reads: list[tuple[str, Answer]],
           db: dict[str, Any]) -> list[dict[str, Any]]:
    rows = {row["request_id"]: row for row in db["commands"]}
    wrong = wrong_effects(db)
    answers = [a for s in sent for a in s.answers] + [a for _, a in reads]
    table = []
    for phase in phases:
        def within(moment: float, phase: Phase = phase) -> bool:
            return phase.started <= moment < (phase.ended or float("inf"))

        mine = [s for s in sent if s.answers and within(s.answers[0].started)]
        accepted = [s for s in mine if s.status == 202]
        final = [s for s in accepted
                 if s.key in rows and rows[s.key]["status"] not in ("accepted", "running")]
        server_errors = [a for a in answers
                         if within(a.started) and isinstance(a.status, int) and a.status >= 500]
        table.append({
            "fault": phase.name,
            "detail": phase.detail,
            "notes": phase.notes,
            "seconds": round((phase.ended or time.time()) - phase.started, 1),
            "sent": len(mine),
            "accepted": len(accepted),
            "final": len(final),
            "lost": len(accepted) - len(final),
            "doubled": sum(1 for s in accepted if s.key in wrong),
            "5xx": len(server_errors),
            "5xx_not_503": sum(1 for a in server_errors
                               if a.status != 503 or not a.retry_after),
            "reads": sum(1 for _, a in reads if within(a.started)),
        })
    return table


COLUMNS = ("sent", "accepted", "final", "lost", "doubled", "5xx", "5xx_not_503", "reads")


def print_table(table: list[dict[str, Any]]) -> None:
    width = max(len(row["fault"]) for row in table)
    print("  " + "fault".ljust(width) + "".join(f"{name:>12}" for name in COLUMNS))
    for row in table:
        print("  " + row["fault"].ljust(width) + "".join(f"{row[name]:>12}" for name in COLUMNS))
        for note in row["notes"]:
            print("  " + " " * width + f"  ! {note}")
