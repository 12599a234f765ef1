"""`tr4ctl host bootstrap | check`: run on the workstation, reaching the host over SSH."""
