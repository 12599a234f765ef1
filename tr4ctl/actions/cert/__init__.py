"""`tr4ctl cert issue | renew | status`: certbot through the running nginx."""
