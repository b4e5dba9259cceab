"""var/redis-url: written by `make run`, read by the CLI, ignored once nothing answers."""

import socket
from pathlib import Path

from orderwire import private_redis_address
from orderwire.local_redis import free_port


def test_a_recorded_address_where_something_listens_is_found(tmp_path: Path) -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        url = f"redis://127.0.0.1:{listening.getsockname()[1]}/0"
        private_redis_address.record(tmp_path, url)

        found = private_redis_address.recorded(tmp_path)

    assert found is not None and found.url == url and found.answering
    assert (tmp_path / "redis-url").read_text() == url + "\n"


def test_an_address_where_nothing_answers_is_reported_stale(tmp_path: Path) -> None:
    private_redis_address.record(tmp_path, f"redis://127.0.0.1:{free_port()}/0")

    found = private_redis_address.recorded(tmp_path)

    assert found is not None and not found.answering


def test_forgetting_removes_the_file_and_nothing_is_found(tmp_path: Path) -> None:
    private_redis_address.record(tmp_path, "redis://127.0.0.1:6390/0")

    private_redis_address.forget(tmp_path)
    private_redis_address.forget(tmp_path)  # twice is fine: the launcher may stop twice

    assert private_redis_address.recorded(tmp_path) is None
    assert list(tmp_path.iterdir()) == []
