"""The built wheel serves the page: everything the web process reads at run time (templates,
CSS, the JavaScript modules, the migrations) is inside it, not only in the source tree.

The wheel is built from a copy of this checkout without its build leftovers (setuptools
reuses a `build/` directory, which would hide a file missing from the package data), with
`pip wheel --no-deps`, installed into a fresh
virtual environment, migrated and served by gunicorn from a directory outside the source
tree, so nothing can be found by accident in the working copy. The fresh environment
borrows the project venv's third-party packages through a `.pth` line (a path, which
Python adds to sys.path without running that directory's own `.pth` files: the editable
install of the checkout stays out), so the test needs no index and installs in a second.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from orderwire.local_redis import PrivateRedis, free_port
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LEFTOVERS = (".git", ".venv", "build", "dist", "*.egg-info", "var", "__pycache__", ".*_cache",
             ".hypothesis", "artifacts", "bench-results")
# `import { x } from "./y.js"` (and `export … from`): the module graph the page loads.
IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;]*?\bfrom\s+["'](\./[^"']+)["']""", re.M)


def _run(argv: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _build_wheel(out: Path) -> Path:
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*LEFTOVERS))
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out),
                  str(source)], cwd=out, timeout=300)
    wheels = sorted(out.glob("orderwire-*.whl"))
    if built.returncode != 0 or not wheels:
        # pip fetches the build backend (setuptools) into an isolated environment: without
        # an index that answers, there is nothing to build with here.
        reason = f"cannot build the wheel here (pip exit {built.returncode}): "
        pytest.skip(reason + (built.stderr.strip().splitlines() or ["no output"])[-1])
    return wheels[0]


def _fresh_venv(wheel: Path, where: Path) -> Path:
    venv = where / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=where, timeout=60)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   cwd=where, timeout=30).stdout.strip()
    Path(purelib, "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([sys.executable, "-m", "pip", "--python", str(python), "install",
                      "--no-deps", "--no-index", "--quiet", str(wheel)], cwd=where, timeout=120)
    assert installed.returncode == 0, installed.stderr
    return venv


def _environment(database_url: str, redis_url: str, port: int) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("ORDERWIRE_", "PYTHON", "REDIS_", "DATABASE_"))}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, PORT=str(port),
               ORDERWIRE_ENV="test", SECRET_KEY="test-only")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory,
              redis_server: PrivateRedis) -> Iterator[tuple[Path, str]]:
    """(the installed copy's `web` package directory, the base URL of gunicorn serving it)."""
    where = tmp_path_factory.mktemp("wheel")
    venv = _fresh_venv(_build_wheel(where), where)
    python = str(venv / "bin" / "python")
    port = free_port()
    env = _environment(f"sqlite:///{where / 'orderwire.db'}", redis_server.url, port)
    located = _run([python, "-c", "import web; print(web.__file__)"], cwd=where, timeout=30,
                   env=env)
    web_package = Path(located.stdout.strip()).parent
    migrated = _run([str(venv / "bin" / "orderwire"), "migrate"], cwd=where, timeout=120, env=env)
    assert migrated.returncode == 0, migrated.stderr
    log = (where / "web.log").open("wb")
    server = subprocess.Popen(
        [python, "-m", "gunicorn", "--config", "python:orderwire.gunicorn_conf",
         "web:create_app()"],
        cwd=where, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base_url) or server.poll() is not None, timeout=60,
                 what="gunicorn from the installed wheel to answer /healthz")
        assert server.poll() is None, (where / "web.log").read_text(errors="replace")
        yield web_package, base_url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()


def _answers(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_the_web_package_comes_from_the_installed_wheel_not_the_checkout(
    installed: tuple[Path, str],
) -> None:
    web_package, _ = installed
    assert ROOT not in web_package.parents
    assert "site-packages" in web_package.parts


def test_the_installed_copy_serves_the_page_and_every_module_it_loads(
    installed: tuple[Path, str],
) -> None:
    web_package, base_url = installed
    page = requests.get(f"{base_url}/", timeout=10)
    assert page.status_code == 200
    scripts = re.findall(r'<script type="module" src="([^"]+)"', page.text)
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert scripts == ["/static/js/app.js"]
    assert stylesheets

    for sheet in stylesheets:
        assert requests.get(base_url + sheet, timeout=10).status_code == 200, sheet
    pending, served = ["js/app.js"], {}
    while pending:
        name = pending.pop()
        if name in served:
            continue
        response = requests.get(f"{base_url}/static/{name}", timeout=10)
        assert response.status_code == 200, f"/static/{name}: {response.status_code}"
        assert "javascript" in response.headers["Content-Type"]
        served[name] = response.text
        folder = name.rsplit("/", 1)[0]
        pending.extend(f"{folder}/{target[2:]}" for target in IMPORT.findall(response.text))

    shipped = {f"js/{path.name}" for path in (web_package / "static" / "js").glob("*.js")}
    assert {"js/app.js", "js/orders.js", "js/live.js"} <= set(served)
    assert set(served) <= shipped
    for name, text in served.items():
        assert text == (web_package / "static" / name).read_text()
