"""Flows with impact, one folder per feature and one entry point per command: pre-flight
checks first ("no impact yet"), then the steps that change things."""
