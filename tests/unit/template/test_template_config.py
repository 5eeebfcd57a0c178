"""samconfig.toml and the sample events in events/ fit the template."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest
from template_support import REPO_ROOT, props

from pipeline_common.contracts.keys import batch_id_of_manifest_key, ingest_part_key

EVENTS = REPO_ROOT / "events"


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    with open(REPO_ROOT / "samconfig.toml", "rb") as handle:
        return tomllib.load(handle)


def test_samconfig_builds_cached_in_parallel_lints_and_deploys_with_a_changeset(
    samconfig: dict[str, Any],
) -> None:
    assert samconfig["version"] == 0.1
    default = samconfig["default"]
    assert default["build"]["parameters"] == {"cached": True, "parallel": True}
    assert default["validate"]["parameters"] == {"lint": True}
    deploy = default["deploy"]["parameters"]
    assert deploy["resolve_s3"] is True
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["confirm_changeset"] is True
    assert default["local_invoke"]["parameters"]["env_vars"] == "events/env.json"


def test_samconfig_staging_is_a_separate_stack_and_catalog_database(
    samconfig: dict[str, Any], template: dict[str, Any]
) -> None:
    staging = samconfig["staging"]
    assert (
        staging["global"]["parameters"]["stack_name"]
        != (samconfig["default"]["global"]["parameters"]["stack_name"])
    )
    overrides = dict(
        item.split("=", 1) for item in staging["deploy"]["parameters"]["parameter_overrides"]
    )
    assert set(overrides) <= set(template["Parameters"])
    assert overrides["GlueDatabaseName"] != template["Parameters"]["GlueDatabaseName"]["Default"]
    for name, value in overrides.items():
        parameter = template["Parameters"][name]
        if "AllowedPattern" in parameter:
            assert re.fullmatch(parameter["AllowedPattern"], value), name
        if "AllowedValues" in parameter:
            assert value in [str(allowed) for allowed in parameter["AllowedValues"]], name


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("name", "source", "detail_type"),
    [
        ("ingest_scheduled.json", "aws.events", "Scheduled Event"),
        ("load_backstop.json", "aws.events", "Scheduled Event"),
        ("s3_manifest_created.json", "aws.s3", "Object Created"),
        ("s3_part_created.json", "aws.s3", "Object Created"),
        ("glue_job_succeeded.json", "aws.glue", "Glue Job State Change"),
        ("glue_job_failed.json", "aws.glue", "Glue Job State Change"),
    ],
)
def test_each_sample_event_has_the_eventbridge_envelope(
    name: str, source: str, detail_type: str
) -> None:
    event = _event(name)
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert (event["source"], event["detail-type"]) == (source, detail_type)


def test_s3_samples_are_a_manifest_and_a_data_part_of_one_batch_in_one_bucket() -> None:
    manifest = _event("s3_manifest_created.json")["detail"]
    part = _event("s3_part_created.json")["detail"]
    assert manifest["bucket"] == part["bucket"]
    batch_id = batch_id_of_manifest_key(manifest["object"]["key"])
    assert batch_id, manifest["object"]["key"]
    table = part["object"]["key"].split("/")[0]
    assert part["object"]["key"] == ingest_part_key(table, batch_id, 0)


def test_glue_samples_differ_only_in_outcome() -> None:
    succeeded = _event("glue_job_succeeded.json")["detail"]
    failed = _event("glue_job_failed.json")["detail"]
    assert succeeded["jobName"] == failed["jobName"]
    assert (succeeded["state"], failed["state"]) == ("SUCCEEDED", "FAILED")


def test_env_json_sets_exactly_the_template_variables_with_placeholders_only(
    resources: dict[str, Any],
) -> None:
    env = _event("env.json")
    assert set(env) == {"IngestFunction", "LoadFunction"}
    for function, variables in env.items():
        declared = set(props(resources, function)["Environment"]["Variables"])
        assert set(variables) - {"POWERTOOLS_METRICS_NAMESPACE"} == declared
        for name, value in variables.items():
            assert "password" not in value.lower(), name
            if name.endswith("_SECRET_ID"):
                # An example ARN in the documentation account, never a secret's value.
                assert re.fullmatch(
                    r"arn:aws:secretsmanager:[a-z0-9-]+:123456789012:secret:[\w/+=.@-]+", value
                )
