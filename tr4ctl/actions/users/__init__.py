"""`tr4ctl users seed | list`: the backend's own `python3 -m app.manage` in its container."""
