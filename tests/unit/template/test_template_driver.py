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

from template_support import REPO_ROOT, props

LAYER_REQUIREMENTS = REPO_ROOT / "layers" / "common" / "requirements.txt"
MAIN_REQUIREMENTS = REPO_ROOT / "requirements" / "main.txt"
DRIVER = ("pg8000", "scramp", "asn1crypto", "python-dateutil", "six")


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


def test_in_every_function_the_common_layer_comes_after_the_pandas_layer(
    resources: dict[str, dict[str, Any]],
) -> None:
    functions = sorted(
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::Serverless::Function"
    )
    assert functions == ["IngestFunction", "LoadFunction"]
    for function in functions:
        layers = props(resources, function)["Layers"]
        assert len(layers) == 2, function
        pandas, common = layers
        # the AWS SDK for pandas layer, by override, region mapping or SSM parameter
        assert "PandasLayerArn" in str(pandas) and "aws-sdk-pandas" in str(pandas), function
        assert common == {"Ref": "CommonLayer"}, f"{function}: CommonLayer must be listed last"
