"""`tr4ctl backup create | list | verify | restore`."""
