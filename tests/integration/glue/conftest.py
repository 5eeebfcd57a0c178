"""Fixtures for the Glue job tests: moto (S3, Glue catalog) held for a whole module.

Each job pass takes seconds on a local SparkSession, so a module runs its scenario once
(several passes) and its tests check what each pass left behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.services import aws_env


@pytest.fixture(scope="module")
def module_aws(moto_server: Any) -> Iterator[str]:
    """moto's endpoint and dummy credentials in the environment for one test module."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in aws_env(moto_server.endpoint).items():
            patch.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            patch.delenv(key, raising=False)
        yield moto_server.endpoint
