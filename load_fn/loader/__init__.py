"""Loads processed star-schema batches from the lake into the Postgres warehouse, exactly once."""
