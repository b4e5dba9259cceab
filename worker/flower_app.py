"""The Celery app as Flower loads it (`orderwire flower`): the worker's app, plus one log
line each time Flower's event capture (re)connects to the broker.

Flower reconnects by itself after Redis restarts, but says only "Failed to capture
events … trying again" (an error) and, at debug level, "Capturing events..." once it
is connected again. This raises that one debug line to an info line an operator can
read as "reconnected", and keeps the rest of Flower's debug output (a traceback per
failed attempt) out of the log.
"""

import logging

from worker.celery_app import app

__all__ = ["app"]

FLOWER_EVENTS_LOGGER = "flower.events"
CONNECTED = "Capturing events..."


class AnnounceEventCapture(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.INFO:
            return True
        if record.msg == CONNECTED:
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "Flower connected to the broker; capturing worker events"
            return True
        return False


def _announce_event_capture() -> None:
    events_log = logging.getLogger(FLOWER_EVENTS_LOGGER)
    if not any(isinstance(f, AnnounceEventCapture) for f in events_log.filters):
        events_log.addFilter(AnnounceEventCapture())
    events_log.setLevel(logging.DEBUG)


_announce_event_capture()
