"""Fault injection under load (`make chaos`): kill workers, restart Redis, lock the
database and crash the relay between publishing and marking while commands flow,
then check that every promise in CONTRACT.md still holds. See docs/chaos.md."""
