"""Load replay: an IdP's provisioning cycle at scale, its statistics, and the same cycle on Locust."""
