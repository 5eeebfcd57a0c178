"""template.yaml read as data (CloudFormation tags in long form), for the template tests."""

from __future__ import annotations

from typing import Any

import pytest
from template_support import TEMPLATE_PATH

from local.cfn import load_template


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return template["Resources"]
