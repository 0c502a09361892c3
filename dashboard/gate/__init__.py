"""The dashboard's sign-in gate: nothing reaches Streamlit before a visitor has signed in.

`pipeline dashboard` with a password login runs three processes (`dashboard.gate.supervisor`): nginx on
the dashboard's address, which asks this package's sign-in service (`dashboard.gate.service`, on
127.0.0.1) about every request through `auth_request`, and Streamlit on 127.0.0.1 only. Before signing
in, a client reaches the sign-in page and the health endpoint, nothing else: no page, no static file,
no websocket, no upload. The service keeps the password's scrypt hash (`dashboard.gate.credentials`),
signs an expiring session cookie (itsdangerous) and throttles attempts per client address and per user
name (`dashboard.gate.throttle`) in its own memory, where no visitor can clear it.

This package imports neither Streamlit nor the rest of the dashboard: the service stays small.
"""
