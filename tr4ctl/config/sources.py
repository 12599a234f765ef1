"""Where a setting's value came from, as messages name it."""

ENVIRONMENT = "environment"
ENV_FILE = ".env"
DEFAULT = "default"
