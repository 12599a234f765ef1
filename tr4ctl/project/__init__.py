"""Files tr4ctl keeps in the project dir (.tr4ctl/): state, the restore journal."""
