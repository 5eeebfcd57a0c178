"""Print the IAM roles SAM generates for template.yaml, as JSON (run by aws-sam-cli's Python).

`samtranslator` is SAM's own translator (it ships with aws-sam-cli, in the tools
environment: it pins its own pydantic). Code locations become S3 URIs first, as `sam
package` makes them; no managed policy is named by name, so no IAM call is needed.
"""

from __future__ import annotations

import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicyNames:
    """SAM looks managed policies up by name in IAM; the template names none that way."""

    def load(self) -> dict[str, str]:
        raise RuntimeError("template.yaml names a managed policy by name: use its ARN")


def main(path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        template = yaml_parse(handle.read())
    for resource in template["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = "s3://packaged-artifacts/code.zip"
    translated = transform(template, {}, NoManagedPolicyNames())
    roles = {
        logical_id: resource
        for logical_id, resource in translated["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
    }
    json.dump(roles, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
