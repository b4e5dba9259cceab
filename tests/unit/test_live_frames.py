"""The live path reads what it needs from a message without decoding the envelope, and
falls back to decoding it whole for any other shape."""

import json
import logging
import uuid

import pytest

from orderwire.db.engine import utcnow
from orderwire.outbox.envelope import dumps, make_envelope
from web.live.delivery_log import log_delivered
from web.live.hub import split_live_message


def an_envelope(request_id: str | None = "req-1.a:b_c") -> str:
    return dumps(
        make_envelope(
            event_id=str(uuid.uuid4()),
            event_type="OrderPlaced",
            occurred_at=utcnow(),
            request_id=request_id,
            aggregate_id=str(uuid.uuid4()),
            aggregate_version=1,
            data={"customer_name": 'Ada "the first", ",\\"envelope\\":"', "total": "2.50"},
        )
    )


def test_a_live_message_from_the_publisher_is_split_without_decoding_the_envelope() -> None:
    envelope = an_envelope()
    positions = {"session-a": "1700000000000-0", "session-b": "1700000000000-1"}
    raw = ('{"positions":' + json.dumps(positions, separators=(",", ":"))
           + ',"envelope":' + envelope + "}").encode()

    assert split_live_message(raw) == (positions, envelope)


def test_a_live_message_of_another_shape_is_decoded_whole() -> None:
    envelope = json.loads(an_envelope())
    raw = json.dumps({"envelope": envelope, "positions": {"s": "1-0"}}).encode()

    positions, text = split_live_message(raw)

    assert positions == {"s": "1-0"} and json.loads(text) == envelope


def test_an_unreadable_live_message_is_an_error() -> None:
    with pytest.raises(ValueError):
        split_live_message(b'{"positions":{"s":')


@pytest.mark.parametrize("request_id", ["req-1.a:b_c", None])
def test_the_delivery_line_names_the_event_read_from_the_frames_head(
    request_id: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    envelope = an_envelope(request_id)
    caplog.set_level(logging.INFO, logger="orderwire.live")

    log_delivered('{"kind":"event","event":' + envelope + "}")

    [record] = caplog.records
    expected = json.loads(envelope)
    fields = vars(record)  # the line's extras
    assert (fields["event"], fields["event_id"], fields["request_id"], record.getMessage()) == (
        "event.delivered", expected["id"], request_id, "delivered OrderPlaced"
    )


def test_a_frame_written_another_way_is_decoded_for_its_delivery_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    envelope = json.loads(an_envelope())
    caplog.set_level(logging.INFO, logger="orderwire.live")

    log_delivered(json.dumps({"kind": "event", "event": envelope}))  # spaces: no fast path

    [record] = caplog.records
    fields = vars(record)  # the line's extras
    assert (fields["event_id"], fields["request_id"]) == (envelope["id"], envelope["request_id"])
