"""gunicorn's settings for imadmin's web process: `make run` (the Procfile) and production (deploy/imadmin-web.service)
start it with the same command line, `gunicorn --config deploy/gunicorn.conf.py imadmin.wsgi`.

Each setting can be changed from the environment, as the unit's EnvironmentFile or make run's shell gives it.
"""

import os

# Where it listens: loopback by default; behind the reverse proxy in production (docs/deploy.md).
bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
# Processes, each with a few threads: a page waits on the database and, at most SYNC_PAGE_READ_TIMEOUT, on Chat.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", 4))
# A request taking longer than this is cut off and its process replaced; no page of imadmin takes seconds.
timeout = int(os.environ.get("WEB_TIMEOUT", 60))
graceful_timeout = 30
keepalive = 5
# Processes are replaced after this many requests, so a slow leak cannot grow for weeks.
max_requests = 2000
max_requests_jitter = 200
# The proxy that may set X-Forwarded-* (Django reads SECURE_PROXY_SSL_HEADER for the scheme).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")
