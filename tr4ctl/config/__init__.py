"""The configuration: every key and its rule, read once per command with its source."""
