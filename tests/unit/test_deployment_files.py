"""docker-compose.yml, the Procfile, the Dockerfile and .env.example must agree and stay safe.

There is no Docker engine where the tests run, so the compose file is checked by reading
it: the same processes as the Procfile with the same command lines, health checks and
ordered start-up, secrets only from the environment, persistence for Redis, ports on
127.0.0.1 only, and a configuration that orderwire's own settings accept.
"""

import re
from pathlib import Path

import pytest
import yaml

from orderwire.config import Settings

ROOT = Path(__file__).resolve().parents[2]
ONE_SHOT = "service_completed_successfully"
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|BASIC_AUTH|API_KEY", re.IGNORECASE)
# ${NAME:?message}: compose stops with the message when NAME is unset or empty.
REQUIRED_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
URL_USERINFO = re.compile(r"://([^/@\s]*)@")


def procfile() -> dict[str, str]:
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def one_shot_services(services: dict[str, dict]) -> set[str]:
    """Services that others wait for to *finish* (migrate): health means nothing for them."""
    return {
        name
        for service in services.values()
        for name, dependency in (service.get("depends_on") or {}).items()
        if isinstance(dependency, dict) and dependency.get("condition") == ONE_SHOT
    }


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def interpolate(text: str, variables: dict[str, str], required_as_marker: bool = False) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, enough to read the file."""

    def replace(match: re.Match) -> str:
        name, operator, argument = match.groups()
        value = variables.get(name, "")
        if operator in (":?", "?") and not value:
            if required_as_marker:
                return f"<{name}>"
            raise LookupError(f"{name}: {argument}")
        if operator in (":-", "-") and not value:
            return argument
        return value

    return VARIABLE.sub(replace, text.replace("$$", "\0")).replace("\0", "$")


def walk(node: object, path: str = "") -> list[tuple[str, str]]:
    """Every scalar in the file with its dotted path (lists of KEY=VALUE split into keys)."""
    if isinstance(node, dict):
        return [item for key, value in node.items() for item in walk(value, f"{path}.{key}")]
    if isinstance(node, list):
        items = []
        for index, value in enumerate(node):
            if isinstance(value, str) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", value):
                key, _, value = value.partition("=")
                items.append((f"{path}.{key}", value))
            else:
                items.extend(walk(value, f"{path}.{index}"))
        return items
    return [(path, "" if node is None else str(node))]


def test_compose_runs_every_procfile_process_with_the_same_command(services):
    processes = procfile()
    assert {"web", "worker", "flower"} <= set(processes)
    for name, command in processes.items():
        assert name in services, f"the Procfile's {name} is missing from docker-compose.yml"
        assert services[name].get("command") == command, name


def test_compose_adds_redis_postgres_and_a_migration(services):
    assert services["redis"]["image"].startswith("redis:7")
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["migrate"]["command"] == "orderwire migrate"
    assert services["migrate"]["restart"] == "no"


def test_every_long_running_service_has_a_health_check(services):
    one_shots = one_shot_services(services)
    assert one_shots == {"migrate"}
    for name, service in services.items():
        if name in one_shots:
            continue
        check = service.get("healthcheck") or {}
        assert not check.get("disable"), name
        test = check.get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"


def test_health_checks_probe_what_they_should(services):
    def check(name: str) -> str:
        return " ".join(services[name]["healthcheck"]["test"])

    assert "/healthz" in check("web") and ":5000" in check("web")
    assert "orderwire worker-alive" in check("worker") and "worker@$$HOSTNAME" in check("worker")
    assert "relay" in check("relay")
    assert "FLOWER_BASIC_AUTH" in check("flower") and "Authorization" in check("flower")
    assert "redis-cli ping" in check("redis") and "REDISCLI_AUTH" in check("redis")
    assert "pg_isready" in check("postgres")


def test_start_up_waits_on_conditions(services):
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for target, dependency in depends_on.items():
            condition = dependency.get("condition")
            assert condition in ("service_healthy", ONE_SHOT), f"{name} -> {target}"
            if condition == "service_healthy":
                assert services[target].get("healthcheck", {}).get("test"), target
    for name in procfile():
        depends_on = services[name]["depends_on"]
        assert depends_on["redis"]["condition"] == "service_healthy", name
        assert depends_on["postgres"]["condition"] == "service_healthy", name
        assert depends_on["migrate"]["condition"] == ONE_SHOT, name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_no_secret_is_written_in_the_compose_file(compose):
    checked = []
    for path, value in walk(compose):
        key = path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(key):
            assert REQUIRED_VARIABLE.fullmatch(value), f"{path} must be ${{{key}:?...}}"
            checked.append(key)
        # A password inside a URL must be a required variable too (compared interpolated,
        # where each required variable stands as its marker <NAME>).
        for userinfo in URL_USERINFO.findall(interpolate(value, {}, required_as_marker=True)):
            _, has_password, password = userinfo.partition(":")
            if has_password:
                assert re.fullmatch(r"<\w+>", password), f"{path} has a literal password"
    assert {"SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "FLOWER_BASIC_AUTH"} <= set(
        checked
    )


def test_every_orderwire_process_gets_the_one_production_configuration(compose, services):
    shared = compose["x-orderwire-env"]
    assert shared["ORDERWIRE_ENV"] == "production"
    assert "@postgres:5432/" in shared["DATABASE_URL"]
    # Redis asks for a password (a required variable, never a default).
    assert shared["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD:?")
    assert shared["REDIS_URL"].endswith("@redis:6379/0")
    for name in [*procfile(), "migrate"]:
        env = environment(services[name])
        assert {key: env[key] for key in shared} == shared, name
        assert {"path": ".env", "required": False} in services[name]["env_file"], name


def test_the_configuration_is_one_that_orderwire_accepts(compose, services):
    secrets = {
        "SECRET_KEY": "k" * 48,
        "POSTGRES_PASSWORD": "pw",
        "REDIS_PASSWORD": "redis-pw",
        "FLOWER_BASIC_AUTH": "admin:pw",
    }
    for name in [*procfile(), "migrate"]:
        env = {
            key: interpolate(value, secrets) for key, value in environment(services[name]).items()
        }
        settings = Settings.from_env(env)
        assert settings.production and settings.database_url.startswith("postgresql+psycopg://")
        assert settings.redis_url == "redis://:redis-pw@redis:6379/0"
    with pytest.raises(LookupError, match="SECRET_KEY"):
        interpolate(compose["x-orderwire-env"]["SECRET_KEY"], {})


def test_redis_keeps_what_it_was_given(services):
    command = services["redis"]["command"]
    command = command if isinstance(command, str) else " ".join(command)
    assert re.search(r"--appendonly\s+yes\b", command)
    assert re.search(r"--maxmemory-policy\s+noeviction\b", command)


def test_redis_asks_for_the_password_the_processes_are_given(services, compose):
    command = services["redis"]["command"]
    assert command.startswith("redis-server ")  # the image's entrypoint then drops root
    assert re.search(r"--requirepass \$\{REDIS_PASSWORD:\?", command)
    assert services["redis"]["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert "${REDIS_PASSWORD:?" in compose["x-orderwire-env"]["REDIS_URL"]


def test_published_ports_listen_on_localhost_only(services):
    published = 0
    for name, service in services.items():
        for port in service.get("ports", []):
            published += 1
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", name
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"
    assert published >= 2  # the page and Flower


def test_processes_listen_where_the_published_ports_and_checks_expect(services):
    assert "127.0.0.1:${PORT:-5000}:5000" in services["web"]["ports"]
    assert environment(services["web"])["GUNICORN_BIND"] == "0.0.0.0:5000"
    assert "127.0.0.1:${FLOWER_PORT:-5555}:5555" in services["flower"]["ports"]
    assert environment(services["flower"])["FLOWER_PORT"] == "5555"
    assert environment(services["flower"])["FLOWER_ADDRESS"] == "0.0.0.0"


def test_flower_requires_basic_auth(services):
    value = environment(services["flower"])["FLOWER_BASIC_AUTH"]
    assert REQUIRED_VARIABLE.fullmatch(value)
    assert interpolate(value, {"FLOWER_BASIC_AUTH": "admin:pw"}) == "admin:pw"


def test_env_example_documents_every_variable_and_holds_no_secret():
    text = (ROOT / "docker-compose.yml").read_text()
    used = {name for name, _, _ in VARIABLE.findall(text)}
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", example, re.MULTILINE))
    assert used <= documented, f"not in .env.example: {sorted(used - documented)}"
    for line in example.splitlines():
        key, _, value = line.partition("=")
        if not line.startswith("#") and SECRET_NAME.search(key):
            assert value == "", f".env.example gives {key} a value"


def test_the_image_runs_as_a_user_and_never_copies_a_local_env_file():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert re.search(r"^RUN pip install \.", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    dockerignore = ROOT / ".dockerignore"
    ignored = dockerignore.read_text().split() if dockerignore.exists() else []
    for source in re.findall(r"^COPY\s+(.+)\s+\S+$", dockerfile, re.MULTILINE):
        if "." in source.split() or ".env" in source.split():
            assert ".env" in ignored, "COPY of the whole context needs .env in .dockerignore"
