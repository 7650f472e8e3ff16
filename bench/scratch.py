"""The benchmarks' scratch PostgreSQL database: local only, created fresh, dropped at the end,
and Django set up on it. Shared by the scripts of bench/ (each one command, see README.md)."""

import os
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent


def local_only(database_url: str) -> None:
    """Refuse any database that is not on this machine: a benchmark only talks to 127.0.0.1."""
    host = urlparse(database_url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"The benchmarks only talk to 127.0.0.1; refusing host {host!r}.")


def maintenance_url(database_url: str) -> str:
    return urlunparse(urlparse(database_url)._replace(path="/postgres"))


def database_name(database_url: str) -> str:
    return urlparse(database_url).path.lstrip("/")


def recreate_database(database_url: str) -> None:
    name = database_name(database_url)
    with psycopg.connect(maintenance_url(database_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(database_url: str) -> None:
    from django.db import connections

    connections.close_all()
    with psycopg.connect(maintenance_url(database_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database_name(database_url)}" WITH (FORCE)')


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
