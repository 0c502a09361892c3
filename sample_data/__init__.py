"""`pipeline sample`: deterministic synthetic API responses, in the real formats, for demos and tests.

It writes what the ingestion would write (the same planners, keys and metadata, plus ``synthetic=true``)
and never ships in the Lambda: it needs numpy.
"""
