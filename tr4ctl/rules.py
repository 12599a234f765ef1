"""The backend's account and secret rules (backend/app/rules.py), loaded by file path.

The CLI cannot import the service it operates (the backend ships as a build context,
not as a package on the CLI's path), but that one module is standard library only.
Using it, the CLI refuses exactly what the backend would, before anything is sent, and
the two cannot drift apart.
"""

import importlib.util
import sys

from tr4ctl.assets import asset_dir

_NAME = "tr4ctl._backend_rules"  # private: never shadows the backend's own `app.rules`


def _load():
    path = asset_dir("backend") / "app" / "rules.py"
    if not path.is_file():
        raise FileNotFoundError(f"tr4ctl is missing {path}; reinstall tr4ctl")
    spec = importlib.util.spec_from_file_location(_NAME, path)
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs, as importlib's recipe does: typing.get_type_hints and
    # pickle find a module's names through sys.modules.
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


_backend = _load()

ROLES = _backend.ROLES
MIN_PASSWORD_CHARS = _backend.MIN_PASSWORD_CHARS
MAX_PASSWORD_BYTES = _backend.MAX_PASSWORD_BYTES
MAX_EMAIL_CHARS = _backend.MAX_EMAIL_CHARS
MAX_NAME_CHARS = _backend.MAX_NAME_CHARS
ACCOUNT_KEYS = _backend.ACCOUNT_KEYS
SECRET_KEY = _backend.SECRET_KEY
MIN_SECRET_BYTES = _backend.MIN_SECRET_BYTES
PLACEHOLDER_MARKERS = _backend.PLACEHOLDER_MARKERS
LOGIN_RATE_LIMIT_ATTEMPTS = _backend.LOGIN_RATE_LIMIT_ATTEMPTS
LOGIN_RATE_LIMIT_WINDOW_SECONDS = _backend.LOGIN_RATE_LIMIT_WINDOW_SECONDS

normalise_email = _backend.normalise_email
email_problem = _backend.email_problem
password_problem = _backend.password_problem
role_problem = _backend.role_problem
normalise_name = _backend.normalise_name
name_problem = _backend.name_problem
secret_problem = _backend.secret_problem
seed_entry_problem = _backend.seed_entry_problem

ENVIRONMENTS = _backend.ENVIRONMENTS
TRUE_WORDS = _backend.TRUE_WORDS
INTEGER_LIMITS = _backend.INTEGER_LIMITS
boolean_problem = _backend.boolean_problem
integer_problem = _backend.integer_problem
cors_origins = _backend.cors_origins
cors_origin_problem = _backend.cors_origin_problem
host_problem = _backend.host_problem
host_name_problem = _backend.host_name_problem
MAX_URL_CHARS = _backend.MAX_URL_CHARS
database_url_problem = _backend.database_url_problem
url_password = _backend.url_password
