"""tr4ctl: operate the TR4CTION Agent stack."""

__version__ = "0.1.0"
