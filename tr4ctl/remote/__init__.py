"""Reaching a tr4ctl host over SSH: the connection options (commands.py, pure argv
builders) and the one place ssh processes are started (connection.py)."""
