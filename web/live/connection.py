"""One websocket's outbound queue: bounded, filled by the hub, drained by its own loop.

The hub never blocks on a slow socket: it appends to this queue and moves on.
When the queue is full the connection is marked overflowed and its loop closes
it with 4008; the client resumes with `?after=`.
"""

import threading
from collections import deque


class LiveConnection:
    def __init__(self, session_id: str, limit: int) -> None:
        self.session_id = session_id
        self.limit = limit
        self.overflowed = False
        self.gap = False  # the hub lost its subscription: catch up from history
        self.going_away = False  # the server is shutting down
        self._frames: deque[tuple[str, str]] = deque()
        # Also set by the websocket itself when its peer closes (see stream.py), so the
        # loop that waits here notices a closed socket at once.
        self.wakeup = threading.Event()

    def push(self, position: str, frame: str) -> None:
        """Called by the hub only; never blocks."""
        if len(self._frames) >= self.limit:
            self.overflowed = True
        else:
            self._frames.append((position, frame))
        self.wakeup.set()

    def signal_gap(self) -> None:
        self.gap = True
        self.wakeup.set()

    def signal_going_away(self) -> None:
        self.going_away = True
        self.wakeup.set()

    def wait(self, timeout: float) -> list[tuple[str, str]]:
        """Frames pushed so far, waiting up to `timeout` for something to happen.

        Clearing before draining: a push that lands after the drain sets the event
        again, so the next wait returns at once instead of sleeping on a frame."""
        self.wakeup.wait(timeout)
        self.wakeup.clear()
        frames = []
        while self._frames:
            frames.append(self._frames.popleft())
        return frames
