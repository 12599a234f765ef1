"""gunicorn settings for the backend container: `gunicorn --config /app/gunicorn.conf.py`."""

import sys

from app.core.config import ConfigError, load_settings
from app.core.logging import configure_logging, fatal_line, gunicorn_logconfig

try:
    _settings = load_settings()
except ConfigError as exc:
    # The one line operators see in `docker logs` when the service refuses to start.
    print(fatal_line(str(exc)), file=sys.stderr, flush=True)
    sys.exit(1)

wsgi_app = "app.main:create_app()"
worker_class = "uvicorn_worker.UvicornWorker"
workers = _settings.WEB_CONCURRENCY
bind = "0.0.0.0:8000"

timeout = 30
# Short, so `docker stop` ends well inside Docker's 10 s grace period.
graceful_timeout = 3
# Longer than nginx's upstream keepalive (60 s) so nginx, not us, closes idle
# connections: otherwise a request can race the close and get a 502.
keepalive = 65

accesslog = None  # app.middleware.request_log writes one JSON line per request
logconfig_dict = gunicorn_logconfig(_settings)
# gunicorn >= 25 opens a control socket under $HOME by default; appuser has no home.
control_socket_disable = True
# uvicorn must not rewrite the client address from proxy headers: the app reads nginx's
# X-Real-IP itself (app.api.deps.client_ip).
forwarded_allow_ips = "127.0.0.1"


def on_starting(server):
    """Runs once in the master before any worker exists: migrate exactly once."""
    from app.startup import prepare_runtime

    # Written at once, without a writer thread: the master serves no requests, and a
    # thread caught mid-write when the master forks a worker would leave the worker's
    # copy of its locks and buffers inconsistent. Each worker starts its own thread when
    # it builds the app (app.main.create_app).
    configure_logging(_settings, background=False)
    try:
        prepare_runtime(_settings)
    except Exception as exc:  # noqa: BLE001 - any failure here must end in one line
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        print(
            fatal_line(f"database migration failed: {type(exc).__name__}: {first_line}"),
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)
