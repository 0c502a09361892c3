"""Versioned SQL migrations, shipped as package data and applied by `pipeline.migrations`."""
