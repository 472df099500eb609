"""holoremote's window: PySide6 widgets and models on a qasync loop.

`ui` imports `app`, never the reverse. Widgets hold no protocol or crypto logic:
everything that loads, validates, generates or connects goes through a few modules
that call into `app` with plain values, one per concern, and runs off the UI thread:
`session_opening` (fields -> the endpoint service), `field_values` (what the fields
hold), `certificate_views` and `verdict_rows` (certificates and verdicts as text),
`credentials` (tokens, test PKI) and `known_hosts_file` (Settings > Known hosts).
"""
