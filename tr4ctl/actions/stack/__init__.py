"""The stack's life cycle: init, up, down, status, logs, doctor."""
