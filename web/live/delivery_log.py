"""One INFO line per event frame a websocket was sent, with the event's request id.

It closes the story `grep <request id>` tells (accepted, started, published,
finished, delivered). It costs one log line per frame and socket (the ids are read
from the frame's head, not by decoding it; docs/operations.md); an event goes only to
its own sessions' sockets (the order's owner, the command's sender), so this grows with
the events a page receives, not with the number of open sockets.
"""

import json
import logging
import re

log = logging.getLogger("orderwire.live")

# The head of an event frame as the hub and the history build it around a stored envelope
# (orderwire/outbox/envelope.py: its keys in this order, no spaces). Request ids are
# [A-Za-z0-9._:-] (web/api/intake.py), so they hold no escaped quote.
_FRAME_HEAD = re.compile(
    r'\{"kind":"event","event":\{"id":"([^"\\]*)","type":"([^"\\]*)",'
    r'"version":\d+,"occurred_at":"[^"\\]*","request_id":(?:null|"([^"\\]*)")'
)


def log_delivered(frame: str) -> None:
    """`frame` is an event frame as sent: {"kind": "event", "event": <envelope>}."""
    if not log.isEnabledFor(logging.INFO):
        return
    head = _FRAME_HEAD.match(frame)
    if head is not None:  # read from the frame's head: no need to decode the whole frame
        event_id, event_type, request_id = head.groups()
    else:
        envelope = json.loads(frame)["event"]
        event_id, event_type = envelope.get("id"), envelope.get("type")
        request_id = envelope.get("request_id")
    log.info(
        "delivered %s",
        event_type,
        extra={"event": "event.delivered", "event_id": event_id, "request_id": request_id},
    )
