"""`tr4ctl images build-local | list`."""
