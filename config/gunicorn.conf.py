"""How to serve the project in production, and how `make bench` serves it:
`gunicorn -c config/gunicorn.conf.py config.wsgi:application`.

gthread workers keep a client's HTTP/1.1 connection open between requests (sync workers close it
after every response, so each request paid a new TCP connection and a new worker accept). Each
thread holds its own database connection (Django's CONN_MAX_AGE, DB_CONN_MAX_AGE), so workers x
threads is the most PostgreSQL connections one server opens. Every value can be set from the
environment; command-line options (`--bind`, `--workers`) override this file.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))  # one per core
threads = int(os.environ.get("GUNICORN_THREADS", "4"))  # requests waiting on PostgreSQL overlap
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))  # idle seconds a connection is kept (above proxies' 60)
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))  # a worker silent this long is restarted
graceful_timeout = 30
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))  # 0: workers are never recycled
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
