"""`make run` (`orderwire run`): everything a newcomer needs, started in the foreground.

Without REDIS_URL it starts a private Redis (append-only, under ./var/redis); without
DATABASE_URL it uses SQLite under ./var/. It migrates the database, makes local
Flower credentials once, prints where everything is, and runs every Procfile
process with honcho. Ctrl-C stops them all, then the private Redis.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from orderwire.config import ConfigError, Settings, safe_url, var_dir
from orderwire.local_redis import PrivateRedis
from orderwire.redis_clients import describe


def _flower_credentials(var: Path) -> str:
    stored = var / "flower-credentials"
    if not stored.exists():
        stored.write_text(f"admin:{secrets.token_urlsafe(12)}\n")
        stored.chmod(0o600)
    return stored.read_text().strip()


def run(procfile: str = "Procfile") -> int:
    env = dict(os.environ)
    var = var_dir(env)
    var.mkdir(parents=True, exist_ok=True)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("FLOWER_BASIC_AUTH", _flower_credentials(var))
    private_redis = None
    if not env.get("REDIS_URL") and not env.get("REDIS_SENTINELS"):
        private_redis = PrivateRedis(var / "redis", appendonly=True).start()
        env["REDIS_URL"] = private_redis.url
    try:
        try:
            settings = Settings.from_env(env)
        except ConfigError as error:
            print(f"orderwire: configuration error: {error}", file=sys.stderr)
            return 2
        env.setdefault("DATABASE_URL", settings.database_url)
        from orderwire.migrate import upgrade

        upgrade(settings.database_url)
        user, _, password = env["FLOWER_BASIC_AUTH"].partition(":")
        print(
            "\n  orderwire is starting\n"
            f"  page    http://127.0.0.1:{settings.port}/\n"
            f"  Flower  http://127.0.0.1:{settings.flower_port}/"
            f"  (user {user}, password {password})\n"
            f"  Redis   {describe(settings)}{' (private)' if private_redis else ''}\n"
            f"  DB      {safe_url(settings.database_url)}\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", procfile], env=env
        )
        try:
            return honcho.wait()
        except KeyboardInterrupt:
            # honcho got the same Ctrl-C and is stopping its processes: let it finish.
            return honcho.wait()
    finally:
        if private_redis is not None:
            private_redis.stop()
