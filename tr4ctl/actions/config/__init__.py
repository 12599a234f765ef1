"""`tr4ctl config show | validate | set`."""
