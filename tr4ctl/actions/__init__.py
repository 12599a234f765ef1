"""Flows that change the stack: pre-flight checks first, then the steps with impact."""
