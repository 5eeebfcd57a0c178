"""Run-it-locally toolkit: the real handlers and Glue script, wired to local services.

The common layer is put on the import path first, as Lambda puts /opt/python there: the
toolkit shares the stages' contracts (pipeline_common) rather than keeping its own copies.
"""

from local.lambda_runtime import ensure_layers_on_path

ensure_layers_on_path()
