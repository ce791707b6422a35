"""From IdP traffic to scenarios: the recording proxy, HAR import and the traffic-to-scenario compiler."""
