"""What every aggregate shares: a version and the events it has recorded but not yet handed over."""

from domain.events import Event, RecordedEvent


class Aggregate:
    def __init__(self, aggregate_id: str, version: int) -> None:
        self.aggregate_id = aggregate_id
        self.version = version
        self._recorded: list[RecordedEvent] = []

    def record(self, event: Event) -> None:
        """Each event moves the aggregate one version on: versions are 1, 2, 3..."""
        self.version += 1
        self._recorded.append(RecordedEvent(event, self.aggregate_id, self.version))

    def collect_events(self) -> list[RecordedEvent]:
        """Hand over the recorded events once (the unit of work stores them in the outbox)."""
        recorded, self._recorded = self._recorded, []
        return recorded
