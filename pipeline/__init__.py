"""The pipeline's shared core: settings, the catalog of sources, the raw zone, database connections
and migrations, market time and the trading calendar; a leaf that imports no other package of the project
(the `pipeline` command lives in `cli/`)."""
