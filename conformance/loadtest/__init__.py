"""Load replay: an IdP's provisioning cycle at scale, its statistics, and the same cycle on Locust.

client (the lean HTTP client), templates (the cycle's requests from the IdP profile), cycle (the
run and its cleanup), stats, report; locustfile runs the cycle on Locust. The command line is
`conformance.commands.load`.
"""
