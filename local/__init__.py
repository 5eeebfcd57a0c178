"""Run-it-locally toolkit: the real handlers and Glue script, wired to local services."""
