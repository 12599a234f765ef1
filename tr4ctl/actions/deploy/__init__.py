"""`tr4ctl deploy | rollback | releases`: backend releases with no failed request."""
