"""One INFO line per event frame a websocket was sent, with the event's request id.

It closes the story `grep <request id>` tells (accepted, started, published,
finished, delivered). It costs one JSON parse and one log line per frame and socket
(about 80 µs, docs/operations.md); an event goes only to its own sessions' sockets
(the order's owner, the command's sender), so this grows with the events a page
receives, not with the number of open sockets.
"""

import json
import logging

log = logging.getLogger("orderwire.live")


def log_delivered(frame: str) -> None:
    """`frame` is an event frame as sent: {"kind": "event", "event": <envelope>}."""
    if not log.isEnabledFor(logging.INFO):
        return
    envelope = json.loads(frame)["event"]
    log.info(
        "delivered %s",
        envelope.get("type"),
        extra={
            "event": "event.delivered",
            "event_id": envelope.get("id"),
            "request_id": envelope.get("request_id"),
        },
    )
