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
        self._wakeup = threading.Event()

    def push(self, position: str, frame: str) -> None:
        if len(self._frames) >= self.limit:
            self.overflowed = True
        else:
            self._frames.append((position, frame))
        self._wakeup.set()

    def signal_gap(self) -> None:
        self.gap = True
        self._wakeup.set()

    def signal_going_away(self) -> None:
        self.going_away = True
        self._wakeup.set()

    def wait(self, timeout: float) -> list[tuple[str, str]]:
        """Frames pushed so far, waiting up to `timeout` for the first one."""
        self._wakeup.wait(timeout)
        self._wakeup.clear()
        frames = []
        while self._frames:
            frames.append(self._frames.popleft())
        return frames
