"""`tr4ctl health | bench | verify`: is the stack healthy, how fast, and the checklists."""
