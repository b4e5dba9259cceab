"""WebSocket pings: the server pings, and closes a socket whose peer stopped answering.

Its own System, pinging every second, so that "stopped answering" shows in seconds
(the production interval is 25 s); other live tests would have to answer pings too.
"""

import pytest

from tests.live_tools import RawWebSocket, publish_notes, session_id_of
from tools.harness.system import System

pytestmark = pytest.mark.e2e

PING_OPCODE = 0x9


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory):
    env = {"ORDERWIRE_WEBSOCKET_PING_SECONDS": "1", "ORDERWIRE_HEARTBEAT_SECONDS": "2"}
    with System(tmp_path_factory.mktemp("pings"), env=env) as running:
        yield running


def test_a_peer_that_does_not_answer_pings_is_closed(system: System) -> None:
    browser = system.new_session()
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    silent = RawWebSocket(system.port, cookie, origin=system.base_url)
    try:
        frames, controls, code = silent.read_until_close()  # reads, but never sends a pong
    finally:
        silent.close()
    assert frames[0]["kind"] == "hello"
    assert PING_OPCODE in controls
    assert code == 1008  # policy violation: "Ping/Pong timeout"


def test_a_peer_that_answers_pings_stays_connected(system: System) -> None:
    browser = system.new_session()
    with system.websocket(browser) as live:
        # websocket-client answers each ping while it reads (it returns on the heartbeats);
        # four ping intervals pass.
        assert live.collect_for(4.0) == []
        assert {frame["kind"] for frame in live.frames} == {"hello", "heartbeat"}
        [note] = publish_notes(system.redis.url, [session_id_of(browser)], 1)
        assert live.wait_for_event(lambda e: e["id"] == note)["id"] == note
