"""`tr4ctl db status | use`: the backend's database, and moving it between engines."""
