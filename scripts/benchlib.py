"""What every benchmark script needs before Django starts: the environment and its database."""

import os
from urllib.parse import urlsplit


def configure_environment(default_database_url):
    """Production-like settings (no DEBUG query log; the test client speaks plain HTTP) on the
    benchmark's own database unless DATABASE_URL names another."""
    os.environ.setdefault("DATABASE_URL", default_database_url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-used-anywhere-else-0123456789")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The shared cache of a production deployment with several processes (README's production
    # notes): credential lookups cached and invalidated across the gunicorn workers.
    os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/3")
    # A benchmark floods from one credential on purpose: no family rate limit unless the caller
    # sets one (docs/security.md, "Rate limits").
    from config.rates import RATE_LIMIT_SETTINGS

    for name in RATE_LIMIT_SETTINGS:
        os.environ.setdefault(name, "")


def create_database_if_missing(database_url):
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
