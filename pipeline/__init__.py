"""The pipeline's shared core: settings, the raw zone, database connections, migrations and the CLI."""
