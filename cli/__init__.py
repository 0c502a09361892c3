"""The composition root: the `pipeline` command, wiring the ingestion, the ETL and the dashboard.

Nothing imports this package; it imports the layers below it (`lambda_src`, `etl`, `dashboard`,
`pipeline`). See docs/internals.md for the layers.
"""
