"""The common layer ships the Postgres driver the code is tested with, and wins over the
AWS SDK for pandas layer's copy of it.

Lambda merges a function's layers into /opt in the order its Layers lists them ("Adding
layers to functions", https://docs.aws.amazon.com/lambda/latest/dg/adding-layers.html:
the order layers are added is the order Lambda merges their content), so the layer
listed last is the one whose /opt/python/pg8000 the function imports.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from template_support import REPO_ROOT, props

LAYER_REQUIREMENTS = REPO_ROOT / "layers" / "common" / "requirements.txt"
MAIN_REQUIREMENTS = REPO_ROOT / "requirements" / "main.txt"
DRIVER = ("pg8000", "scramp", "asn1crypto", "python-dateutil", "six")
FUNCTIONS = ("IngestFunction", "LoadFunction")


def _pins(path: Any) -> dict[str, str]:
    """name (PEP 503 normalised) -> pinned version, from `name==version` lines."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        name, separator, version = text.partition("==")
        assert separator, f"{path.name}: {line!r} is not an exact pin"
        pins[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version.strip().split()[0]
    return pins


def test_the_common_layer_pins_the_driver_and_its_dependencies() -> None:
    assert set(DRIVER) <= set(_pins(LAYER_REQUIREMENTS))


def test_every_common_layer_pin_is_the_environments_pin() -> None:
    layer, main = _pins(LAYER_REQUIREMENTS), _pins(MAIN_REQUIREMENTS)

    assert {name: main.get(name) for name in layer} == layer


def _is_common_layer(entry: Any) -> bool:
    return entry == {"Ref": "CommonLayer"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_common_layer_comes_after_the_pandas_layer(
    resources: dict[str, dict[str, Any]], function: str
) -> None:
    layers = props(resources, function)["Layers"]
    common = [i for i, entry in enumerate(layers) if _is_common_layer(entry)]

    assert common == [len(layers) - 1], f"{function}: CommonLayer must be listed last"
    assert "AWSSDKPandas" in str(layers[0]) or "aws-sdk-pandas" in str(layers[0])
    assert len(layers) == 2
