"""template.yaml holds every resource of the design, wired as the design says."""

from __future__ import annotations

import ast
import re
from typing import Any

import pytest
from template_support import REPO_ROOT, as_list, get_att, props, ref, sub

EXPECTED_TYPES = {
    "IngestBucket": "AWS::S3::Bucket",
    "ProcessedBucket": "AWS::S3::Bucket",
    "AthenaResultsBucket": "AWS::S3::Bucket",
    "IngestBucketPolicy": "AWS::S3::BucketPolicy",
    "ProcessedBucketPolicy": "AWS::S3::BucketPolicy",
    "AthenaResultsBucketPolicy": "AWS::S3::BucketPolicy",
    "CommonLayer": "AWS::Serverless::LayerVersion",
    "IngestFunction": "AWS::Serverless::Function",
    "IngestFunctionLogGroup": "AWS::Logs::LogGroup",
    "LoadFunction": "AWS::Serverless::Function",
    "LoadFunctionLogGroup": "AWS::Logs::LogGroup",
    "GlueDatabase": "AWS::Glue::Database",
    "StarSchemaJob": "AWS::Glue::Job",
    "StarSchemaJobRole": "AWS::IAM::Role",
    "StarSchemaJobLogGroup": "AWS::Logs::LogGroup",
    "StarSchemaJobErrorLogGroup": "AWS::Logs::LogGroup",
    "StarSchemaBackstopTrigger": "AWS::Glue::Trigger",
    "StarSchemaWorkflow": "AWS::Glue::Workflow",
    "StarSchemaTrigger": "AWS::Glue::Trigger",
    "ManifestCreatedRule": "AWS::Events::Rule",
    "ManifestCreatedRuleRole": "AWS::IAM::Role",
    "TransformSucceededRule": "AWS::Events::Rule",
    "TransformSucceededRulePermission": "AWS::Lambda::Permission",
    "TransformFailedRule": "AWS::Events::Rule",
    "AlertTopic": "AWS::SNS::Topic",
    "AlertTopicPolicy": "AWS::SNS::TopicPolicy",
    "AlertEmailSubscription": "AWS::SNS::Subscription",
    "FailedEventsQueue": "AWS::SQS::Queue",
    "FailedEventsQueuePolicy": "AWS::SQS::QueuePolicy",
    "FailedEventsAlarm": "AWS::CloudWatch::Alarm",
    "IngestErrorsAlarm": "AWS::CloudWatch::Alarm",
    "LoadErrorsAlarm": "AWS::CloudWatch::Alarm",
    "IngestFailedAlarm": "AWS::CloudWatch::Alarm",
    "LoadFailedAlarm": "AWS::CloudWatch::Alarm",
    "QuarantinedRowsAlarm": "AWS::CloudWatch::Alarm",
    "StateRejectedAlarm": "AWS::CloudWatch::Alarm",
    "FreshnessAlarm": "AWS::CloudWatch::Alarm",
    "PipelineDashboard": "AWS::CloudWatch::Dashboard",
    "AthenaWorkGroup": "AWS::Athena::WorkGroup",
}
BUCKETS = {
    "IngestBucket": "IngestBucketPolicy",
    "ProcessedBucket": "ProcessedBucketPolicy",
    "AthenaResultsBucket": "AthenaResultsBucketPolicy",
}
FUNCTIONS = ("IngestFunction", "LoadFunction")
PANDAS_SSM_FALLBACK = "{{resolve:ssm:/aws/service/aws-sdk-pandas/3.16.1/py3.11/x86_64/layer-arn}}"
PANDAS_LAYER = {
    "Fn::If": [
        "HasPandasLayerOverride",
        ref("PandasLayerArn"),
        {
            "Fn::If": [
                "PandasLayerInMapping",
                {"Fn::FindInMap": ["PandasLayer", ref("AWS::Region"), "Arn"]},
                PANDAS_SSM_FALLBACK,
            ]
        },
    ]
}
WORKFLOW_ARN = sub(
    "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:workflow/${StarSchemaWorkflow}"
)


def test_every_resource_of_the_design_exists_with_its_type(resources: dict[str, Any]) -> None:
    actual = {name: resources[name]["Type"] for name in EXPECTED_TYPES if name in resources}
    assert actual == EXPECTED_TYPES


def test_functions_run_python311_x86_with_json_logs_tracing_and_one_namespace(
    template: dict[str, Any],
) -> None:
    function_globals = template["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.11"
    assert function_globals["Architectures"] == ["x86_64"]
    assert function_globals["Tracing"] == "Disabled"  # docs/adr/0010-no-x-ray-tracing.md
    assert function_globals["LoggingConfig"]["LogFormat"] == "JSON"
    assert function_globals["Environment"]["Variables"] == {
        "POWERTOOLS_METRICS_NAMESPACE": "ToteSysPipeline"
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_never_overlaps_itself(resources: dict[str, Any], function: str) -> None:
    assert props(resources, function)["ReservedConcurrentExecutions"] == 1


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_carries_the_pandas_layer_then_the_common_layer(
    resources: dict[str, Any], function: str
) -> None:
    assert props(resources, function)["Layers"] == [PANDAS_LAYER, ref("CommonLayer")]


def test_pandas_layer_rows_are_release_3_16_1_python311_x86_64_of_their_region(
    template: dict[str, Any],
) -> None:
    rows = template["Mappings"]["PandasLayer"]
    assert rows, "the PandasLayer mapping is empty"
    for region, row in rows.items():
        assert re.fullmatch(
            rf"arn:aws:lambda:{region}:\d{{12}}:layer:AWSSDKPandas-Python311:\d+", row["Arn"]
        ), row["Arn"]
    # The condition that chooses the mapping must name exactly the mapped regions.
    condition = template["Conditions"]["PandasLayerInMapping"]["Fn::Or"]
    named = {equals["Fn::Equals"][1] for equals in condition}
    assert all(equals["Fn::Equals"][0] == ref("AWS::Region") for equals in condition)
    assert named == set(rows)


def test_pandas_layer_override_and_vpc_are_optional_by_condition(template: dict[str, Any]) -> None:
    conditions = template["Conditions"]
    assert conditions["HasPandasLayerOverride"] == {
        "Fn::Not": [{"Fn::Equals": [ref("PandasLayerArn"), ""]}]
    }
    assert conditions["InVpc"] == {
        "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", ref("SubnetIds")]}, ""]}]
    }
    assert template["Parameters"]["PandasLayerArn"]["Default"] == ""
    assert template["Parameters"]["SubnetIds"]["Default"] == ""


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_joins_the_vpc_only_when_subnets_are_given(
    resources: dict[str, Any], function: str
) -> None:
    assert props(resources, function)["VpcConfig"] == {
        "Fn::If": [
            "InVpc",
            {"SubnetIds": ref("SubnetIds"), "SecurityGroupIds": ref("SecurityGroupIds")},
            ref("AWS::NoValue"),
        ]
    }


def test_common_layer_builds_pipeline_common_with_its_requirements(
    resources: dict[str, Any],
) -> None:
    layer = resources["CommonLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/common/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.11"]
    assert layer["Metadata"]["BuildMethod"] == "python3.11"
    requirements = (REPO_ROOT / "layers/common/requirements.txt").read_text()
    pinned = {
        line.split("==")[0] for line in requirements.splitlines() if "==" in line and line[0] != "#"
    }
    # Powertools and isal (the pandas layer lacks them) and pg8000 with its dependencies
    # (the driver pinned here, not whatever the pandas layer carries: test_template_driver).
    assert pinned == {
        "aws-lambda-powertools",
        "isal",
        "pg8000",
        "scramp",
        "asn1crypto",
        "python-dateutil",
        "six",
    }
    assert (REPO_ROOT / "layers/common/pipeline_common/__init__.py").is_file()


@pytest.mark.parametrize(
    ("function", "code_uri"), [("IngestFunction", "ingest_fn/"), ("LoadFunction", "load_fn/")]
)
def test_each_function_points_at_a_handler_that_exists(
    resources: dict[str, Any], function: str, code_uri: str
) -> None:
    properties = props(resources, function)
    assert properties["CodeUri"] == code_uri
    assert properties["Handler"] == "app.lambda_handler"
    app = REPO_ROOT / code_uri / "app.py"
    assert app.is_file(), f"{app} does not exist"
    defined = {
        node.name
        for node in ast.parse(app.read_text()).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assert "lambda_handler" in defined


def _env_names_read(settings_path: str) -> set[str]:
    """Upper-case string constants that settings.py reads from its environment mapping."""
    tree = ast.parse((REPO_ROOT / settings_path).read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        candidates: list[ast.expr] = []
        if isinstance(node, ast.Call):
            candidates = list(node.args)
        elif isinstance(node, ast.Subscript):
            candidates = [node.slice]
        elif isinstance(node, ast.Tuple):
            candidates = list(node.elts)
        for candidate in candidates:
            if (
                isinstance(candidate, ast.Constant)
                and isinstance(candidate.value, str)
                and re.fullmatch(r"[A-Z][A-Z0-9_]{2,}", candidate.value)
            ):
                names.add(candidate.value)
    return names


@pytest.mark.parametrize(
    ("function", "settings_path", "required", "optional_unset"),
    [
        (
            "IngestFunction",
            "ingest_fn/ingest/settings.py",
            {"INGEST_BUCKET", "SOURCE_SECRET_ID", "COMMIT_LAG_SECONDS"},
            {"TABLES", "PART_ROWS"},
        ),
        (
            "LoadFunction",
            "load_fn/loader/settings.py",
            {"PROCESSED_BUCKET", "WAREHOUSE_SECRET_ID"},
            set(),
        ),
    ],
)
def test_environment_matches_what_the_code_reads(
    template: dict[str, Any],
    resources: dict[str, Any],
    function: str,
    settings_path: str,
    required: set[str],
    optional_unset: set[str],
) -> None:
    read = _env_names_read(settings_path)
    own = props(resources, function)["Environment"]["Variables"]
    provided = set(own) | set(template["Globals"]["Function"]["Environment"]["Variables"])
    assert required <= read, f"{settings_path} no longer reads {sorted(required - read)}"
    assert required <= provided
    # Everything the code reads is provided, except documented optional settings left at
    # their defaults; everything provided is read (by the settings or by Powertools).
    assert read - provided == optional_unset
    assert {name for name in provided - read if not name.startswith("POWERTOOLS_")} == set()
    assert (
        own["POWERTOOLS_SERVICE_NAME"]
        == {"IngestFunction": "ingest", "LoadFunction": "load"}[function]
    )


def test_function_environment_values_come_from_resources_and_parameters(
    resources: dict[str, Any],
) -> None:
    ingest = props(resources, "IngestFunction")["Environment"]["Variables"]
    load = props(resources, "LoadFunction")["Environment"]["Variables"]
    assert ingest["INGEST_BUCKET"] == ref("IngestBucket")
    assert ingest["SOURCE_SECRET_ID"] == ref("SourceSecretArn")
    assert ingest["COMMIT_LAG_SECONDS"] == ref("CommitLagSeconds")
    assert load["PROCESSED_BUCKET"] == ref("ProcessedBucket")
    assert load["WAREHOUSE_SECRET_ID"] == ref("WarehouseSecretArn")


def test_ingest_runs_on_the_schedule_parameter_without_retries(resources: dict[str, Any]) -> None:
    ingest = props(resources, "IngestFunction")
    assert ingest["Events"] == {
        "IngestSchedule": {
            "Type": "Schedule",
            "Properties": {
                "Schedule": ref("IngestSchedule"),
                "Description": "Runs ingest on the IngestSchedule.",
                "Enabled": True,
            },
        }
    }
    assert ingest["EventInvokeConfig"]["MaximumRetryAttempts"] == 0


def test_loader_has_a_backstop_schedule(resources: dict[str, Any]) -> None:
    events = props(resources, "LoadFunction")["Events"]
    assert list(events) == ["LoadBackstop"]
    assert events["LoadBackstop"]["Type"] == "Schedule"
    assert events["LoadBackstop"]["Properties"]["Schedule"] == ref("LoadBackstopSchedule")


def test_manifest_rule_matches_object_created_under_manifests_in_the_ingest_bucket(
    resources: dict[str, Any],
) -> None:
    assert props(resources, "ManifestCreatedRule")["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [ref("IngestBucket")]},
            "object": {"key": [{"prefix": "_manifests/"}]},
        },
    }


def test_manifest_rule_notifies_the_workflow_through_a_role_allowed_notify_event(
    resources: dict[str, Any],
) -> None:
    rule = props(resources, "ManifestCreatedRule")
    assert rule["State"] == "ENABLED"
    [target] = rule["Targets"]
    assert target["Arn"] == WORKFLOW_ARN
    assert target["RoleArn"] == get_att("ManifestCreatedRuleRole", "Arn")
    assert target["DeadLetterConfig"] == {"Arn": get_att("FailedEventsQueue", "Arn")}
    role = props(resources, "ManifestCreatedRuleRole")
    [trusted] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trusted["Principal"] == {"Service": "events.amazonaws.com"}
    [policy] = role["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "NotifyWorkflow",
            "Effect": "Allow",
            "Action": "glue:notifyEvent",
            "Resource": WORKFLOW_ARN,
        }
    ]


def test_event_trigger_batches_manifests_and_starts_the_job(resources: dict[str, Any]) -> None:
    trigger = props(resources, "StarSchemaTrigger")
    assert trigger["Type"] == "EVENT"
    assert trigger["WorkflowName"] == ref("StarSchemaWorkflow")
    assert trigger["EventBatchingCondition"] == {
        "BatchSize": ref("TransformBatchSize"),
        "BatchWindow": ref("TransformBatchWindowSeconds"),
    }
    assert trigger["Actions"] == [{"JobName": ref("StarSchemaJob")}]


def test_glue_job_is_glue5_one_run_at_a_time_no_retries_with_its_arguments(
    resources: dict[str, Any],
) -> None:
    job = props(resources, "StarSchemaJob")
    assert job["GlueVersion"] == "5.0"
    assert job["Command"] == {
        "Name": "glueetl",
        "PythonVersion": "3",
        "ScriptLocation": "glue_jobs/star_schema.py",
    }
    assert job["Role"] == get_att("StarSchemaJobRole", "Arn")
    assert job["WorkerType"] == ref("GlueWorkerType")
    assert job["NumberOfWorkers"] == ref("GlueNumberOfWorkers")
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert job["MaxRetries"] == 0
    assert job["Timeout"] == ref("GlueTimeoutMinutes")
    assert job["DefaultArguments"] == {
        "--ingest_location": sub("s3://${IngestBucket}"),
        "--processed_location": sub("s3://${ProcessedBucket}"),
        "--ingest_bucket": ref("IngestBucket"),
        "--processed_bucket": ref("ProcessedBucket"),
        "--database": ref("GlueDatabase"),
        "--TempDir": sub("s3://${ProcessedBucket}/_tmp/glue/"),
        "--job-language": "python",
        "--job-bookmark-option": "job-bookmark-disable",
        "--enable-metrics": "true",
        "--custom-logGroup-prefix": sub("/aws-glue/jobs/${AWS::StackName}-star-schema"),
        "--enable-glue-datacatalog": "true",
        "--enable-job-insights": "true",
    }


def test_glue_script_location_is_the_self_contained_job_script(resources: dict[str, Any]) -> None:
    # sam package uploads Command.ScriptLocation (a local path) and nothing else.
    location = props(resources, "StarSchemaJob")["Command"]["ScriptLocation"]
    assert not location.startswith("s3://")
    assert (REPO_ROOT / location).parent.is_dir()


def test_transform_succeeded_rule_invokes_the_loader(resources: dict[str, Any]) -> None:
    rule = props(resources, "TransformSucceededRule")
    assert rule["EventPattern"] == {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": [ref("StarSchemaJob")], "state": ["SUCCEEDED"]},
    }
    [target] = rule["Targets"]
    assert target["Arn"] == get_att("LoadFunction", "Arn")
    permission = props(resources, "TransformSucceededRulePermission")
    assert permission == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": ref("LoadFunction"),
        "Principal": "events.amazonaws.com",
        "SourceArn": get_att("TransformSucceededRule", "Arn"),
    }


def test_transform_failed_rule_alerts_the_topic_on_failed_timeout_stopped(
    resources: dict[str, Any],
) -> None:
    rule = props(resources, "TransformFailedRule")
    assert rule["EventPattern"] == {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": [ref("StarSchemaJob")], "state": ["FAILED", "TIMEOUT", "STOPPED"]},
    }
    [target] = rule["Targets"]
    assert target["Arn"] == ref("AlertTopic")
    assert set(target["InputTransformer"]["InputPathsMap"]) == {
        "job",
        "run",
        "state",
        "message",
        "time",
    }
    statements = props(resources, "AlertTopicPolicy")["PolicyDocument"]["Statement"]
    from_rule = [s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert from_rule == [
        {
            "Sid": "TransformFailedRulePublishes",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": ref("AlertTopic"),
            "Condition": {"ArnEquals": {"aws:SourceArn": get_att("TransformFailedRule", "Arn")}},
        }
    ]


@pytest.mark.parametrize(("bucket", "policy"), BUCKETS.items())
def test_each_bucket_is_private_encrypted_versioned_and_tls_only(
    resources: dict[str, Any], bucket: str, policy: str
) -> None:
    properties = props(resources, bucket)
    [encryption] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = properties["LifecycleConfiguration"]["Rules"]
    assert {"DaysAfterInitiation": 1} in [r.get("AbortIncompleteMultipartUpload") for r in rules]
    bucket_policy = props(resources, policy)
    assert bucket_policy["Bucket"] == ref(bucket)
    assert {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [get_att(bucket, "Arn"), sub("${" + bucket + ".Arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    } in bucket_policy["PolicyDocument"]["Statement"]


def test_only_the_ingest_bucket_sends_events_to_eventbridge(resources: dict[str, Any]) -> None:
    assert props(resources, "IngestBucket")["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    for other in ("ProcessedBucket", "AthenaResultsBucket"):
        assert "NotificationConfiguration" not in props(resources, other)


def test_lifecycle_never_expires_landing_data_or_a_current_dimension_snapshot(
    resources: dict[str, Any],
) -> None:
    ingest_rules = props(resources, "IngestBucket")["LifecycleConfiguration"]["Rules"]
    assert [rule for rule in ingest_rules if "ExpirationInDays" in rule] == []
    lake_rules = props(resources, "ProcessedBucket")["LifecycleConfiguration"]["Rules"]
    expiring = {
        rule["Id"]: (rule.get("Prefix"), rule.get("TagFilters"))
        for rule in lake_rules
        if "ExpirationInDays" in rule
    }
    # Age cannot tell a current snapshot from a superseded one: only scratch space and
    # objects the job tagged as superseded may expire.
    assert expiring == {
        "ExpireJobScratch": ("_tmp/", None),
        "ExpireSupersededSnapshots": (None, [{"Key": "superseded", "Value": "true"}]),
    }
    noncurrent = [r for r in lake_rules if "NoncurrentVersionExpiration" in r]
    assert noncurrent[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}


def test_athena_results_expire_after_a_week(resources: dict[str, Any]) -> None:
    rules = props(resources, "AthenaResultsBucket")["LifecycleConfiguration"]["Rules"]
    [results] = [rule for rule in rules if rule["Id"] == "ExpireQueryResults"]
    assert results["ExpirationInDays"] == 7


def test_email_subscription_exists_only_when_an_address_is_given(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    subscription = resources["AlertEmailSubscription"]
    assert subscription["Condition"] == "HasAlertEmail"
    assert template["Conditions"]["HasAlertEmail"] == {
        "Fn::Not": [{"Fn::Equals": [ref("AlertEmail"), ""]}]
    }
    assert subscription["Properties"] == {
        "TopicArn": ref("AlertTopic"),
        "Protocol": "email",
        "Endpoint": ref("AlertEmail"),
    }


@pytest.mark.parametrize(
    ("alarm", "namespace", "metric", "dimensions"),
    [
        (
            "IngestErrorsAlarm",
            "AWS/Lambda",
            "Errors",
            [{"Name": "FunctionName", "Value": ref("IngestFunction")}],
        ),
        (
            "LoadErrorsAlarm",
            "AWS/Lambda",
            "Errors",
            [{"Name": "FunctionName", "Value": ref("LoadFunction")}],
        ),
        (
            "IngestFailedAlarm",
            "ToteSysPipeline",
            "IngestFailed",
            [{"Name": "service", "Value": "ingest"}],
        ),
        (
            "LoadFailedAlarm",
            "ToteSysPipeline",
            "LoadFailed",
            [{"Name": "service", "Value": "load"}],
        ),
        (
            "QuarantinedRowsAlarm",
            "ToteSysPipeline",
            "QuarantinedRows",
            [{"Name": "service", "Value": "load"}],
        ),
        (
            "StateRejectedAlarm",
            "ToteSysPipeline",
            "StateRejected",
            [{"Name": "service", "Value": "ingest"}],
        ),
        (
            "FailedEventsAlarm",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            [{"Name": "QueueName", "Value": get_att("FailedEventsQueue", "QueueName")}],
        ),
    ],
)
def test_alarms_watch_their_metric_and_alert_the_topic(
    resources: dict[str, Any], alarm: str, namespace: str, metric: str, dimensions: list[Any]
) -> None:
    properties = props(resources, alarm)
    assert (properties["Namespace"], properties["MetricName"]) == (namespace, metric)
    assert properties["Dimensions"] == dimensions
    assert properties["Threshold"] == 1
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert properties["TreatMissingData"] == "notBreaching"
    assert properties["AlarmActions"] == [ref("AlertTopic")]


def test_quarantined_rows_metric_namespace_is_the_functions_namespace(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    namespace = template["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_METRICS_NAMESPACE"
    ]
    assert props(resources, "QuarantinedRowsAlarm")["Namespace"] == namespace
    load_service = props(resources, "LoadFunction")["Environment"]["Variables"][
        "POWERTOOLS_SERVICE_NAME"
    ]
    assert props(resources, "QuarantinedRowsAlarm")["Dimensions"][0]["Value"] == load_service


@pytest.mark.parametrize("function", FUNCTIONS)
def test_failed_async_invocations_go_to_the_failed_events_queue(
    resources: dict[str, Any], function: str
) -> None:
    config = props(resources, function)["EventInvokeConfig"]
    assert config["DestinationConfig"] == {
        "OnFailure": {"Type": "SQS", "Destination": get_att("FailedEventsQueue", "Arn")}
    }


def test_every_rule_target_dead_letters_to_the_queue_its_policy_allows(
    resources: dict[str, Any],
) -> None:
    rules = ("ManifestCreatedRule", "TransformSucceededRule", "TransformFailedRule")
    for rule in rules:
        for target in props(resources, rule)["Targets"]:
            assert target["DeadLetterConfig"] == {"Arn": get_att("FailedEventsQueue", "Arn")}
    statements = props(resources, "FailedEventsQueuePolicy")["PolicyDocument"]["Statement"]
    [allow] = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        get_att(rule, "Arn") for rule in rules
    ]


@pytest.mark.parametrize(
    ("function", "log_group", "name"),
    [
        ("IngestFunction", "IngestFunctionLogGroup", "/aws/lambda/${AWS::StackName}-ingest"),
        ("LoadFunction", "LoadFunctionLogGroup", "/aws/lambda/${AWS::StackName}-load"),
    ],
)
def test_each_function_logs_to_its_own_group_with_retention(
    resources: dict[str, Any], function: str, log_group: str, name: str
) -> None:
    assert props(resources, function)["LoggingConfig"] == {"LogGroup": ref(log_group)}
    assert props(resources, log_group) == {
        "LogGroupName": sub(name),
        "RetentionInDays": ref("LogRetentionDays"),
    }


@pytest.mark.parametrize(
    ("log_group", "suffix"),
    [("StarSchemaJobLogGroup", "output"), ("StarSchemaJobErrorLogGroup", "error")],
)
def test_glue5_job_logs_go_to_the_prefix_groups_with_retention(
    resources: dict[str, Any], log_group: str, suffix: str
) -> None:
    # Glue 5.0 writes <--custom-logGroup-prefix>/output and /error (AWS "Logging for AWS
    # Glue jobs"); the stack declares both so they expire.
    prefix = props(resources, "StarSchemaJob")["DefaultArguments"]["--custom-logGroup-prefix"]
    assert props(resources, log_group) == {
        "LogGroupName": sub(prefix["Fn::Sub"] + "/" + suffix),
        "RetentionInDays": ref("LogRetentionDays"),
    }


def test_glue_job_has_no_glue4_continuous_logging_arguments(resources: dict[str, Any]) -> None:
    arguments = props(resources, "StarSchemaJob")["DefaultArguments"]
    assert [a for a in arguments if "continuous" in a] == []


def test_workflow_runs_one_at_a_time_like_its_job(resources: dict[str, Any]) -> None:
    assert props(resources, "StarSchemaWorkflow")["MaxConcurrentRuns"] == 1


def test_transform_backstop_starts_the_job_on_its_schedule(resources: dict[str, Any]) -> None:
    trigger = props(resources, "StarSchemaBackstopTrigger")
    assert trigger == {
        "Name": sub("${AWS::StackName}-backstop"),
        "Description": trigger["Description"],
        "Type": "SCHEDULED",
        "Schedule": ref("TransformBackstopSchedule"),
        "StartOnCreation": True,
        "Actions": [{"JobName": ref("StarSchemaJob")}],
    }


def test_athena_workgroup_writes_encrypted_results_to_the_results_bucket(
    resources: dict[str, Any],
) -> None:
    config = props(resources, "AthenaWorkGroup")["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"] == {
        "OutputLocation": sub("s3://${AthenaResultsBucket}/results/"),
        "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS"},
    }


def test_named_queries_answer_the_four_business_questions_in_the_star_database(
    resources: dict[str, Any],
) -> None:
    queries = {
        resource["Properties"]["Name"]: resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Athena::NamedQuery"
    }
    assert set(queries) == {
        "sales-by-month-and-currency",
        "top-designs",
        "revenue-by-staff-location",
        "late-payments",
    }
    for query in queries.values():
        assert query["Database"] == ref("GlueDatabase")
        assert query["WorkGroup"] == ref("AthenaWorkGroup")


def test_outputs_name_everything_an_operator_needs(template: dict[str, Any]) -> None:
    values = {name: output["Value"] for name, output in template["Outputs"].items()}
    assert values == {
        "IngestBucketName": ref("IngestBucket"),
        "ProcessedBucketName": ref("ProcessedBucket"),
        "AthenaResultsBucketName": ref("AthenaResultsBucket"),
        "IngestFunctionName": ref("IngestFunction"),
        "LoadFunctionName": ref("LoadFunction"),
        "StarSchemaJobName": ref("StarSchemaJob"),
        "StarSchemaWorkflowName": ref("StarSchemaWorkflow"),
        "StarSchemaJobOutputLogGroupName": ref("StarSchemaJobLogGroup"),
        "StarSchemaJobErrorLogGroupName": ref("StarSchemaJobErrorLogGroup"),
        "GlueDatabaseName": ref("GlueDatabase"),
        "AthenaWorkGroupName": ref("AthenaWorkGroup"),
        "AlertTopicArn": ref("AlertTopic"),
        "FailedEventsQueueUrl": ref("FailedEventsQueue"),
    }


def test_parameter_defaults_are_the_designed_ones(template: dict[str, Any]) -> None:
    defaults = {name: p.get("Default") for name, p in template["Parameters"].items()}
    assert defaults == {
        "SourceSecretArn": None,
        "WarehouseSecretArn": None,
        "SecretsKmsKeyArn": "",
        "AlertEmail": "",
        "IngestSchedule": "rate(3 minutes)",
        "CommitLagSeconds": 0,
        "TransformBackstopSchedule": "cron(7/15 * * * ? *)",
        "LoadBackstopSchedule": "rate(15 minutes)",
        "GlueWorkerType": "G.1X",
        "GlueNumberOfWorkers": 2,
        "GlueTimeoutMinutes": 60,
        "TransformBatchSize": 1,
        "TransformBatchWindowSeconds": 300,
        "GlueDatabaseName": "totesys_star",
        "ArtifactBucketName": "aws-sam-cli-managed-default-samclisourcebucket-*",
        "PandasLayerArn": "",
        "SubnetIds": "",
        "SecurityGroupIds": "",
        "DeployRoleArn": "",
        "AllowManifestRepair": "false",
        "RetentionDays": 30,
        "LogRetentionDays": 30,
        "FreshnessAlarmSeconds": 1800,
    }


@pytest.mark.parametrize(
    ("parameter", "accepted", "rejected"),
    [
        (
            "IngestSchedule",
            ["rate(3 minutes)", "cron(0/5 8-18 ? * MON-FRI *)"],
            ["every 3 minutes", ""],
        ),
        (
            "TransformBackstopSchedule",
            ["cron(7/15 * * * ? *)", "cron(0 * * * ? *)"],
            ["rate(15 minutes)", ""],
        ),
        ("AlertEmail", ["", "data-team@example.com"], ["data-team", "a b@example.com"]),
        (
            "SourceSecretArn",
            ["arn:aws:secretsmanager:eu-west-2:123456789012:secret:totesys/source-AbCdEf"],
            ["", "totesys/source", "arn:aws:s3:::bucket"],
        ),
        (
            "PandasLayerArn",
            ["", "arn:aws:lambda:eu-west-2:336392948345:layer:AWSSDKPandas-Python311:30"],
            ["AWSSDKPandas-Python311", "arn:aws:lambda:eu-west-2:336392948345:layer:AWSSDKPandas"],
        ),
        ("GlueDatabaseName", ["totesys_star", "star2"], ["totesys-star", "Totesys", "_star"]),
        (
            "SecretsKmsKeyArn",
            ["", "arn:aws:kms:eu-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
            ["alias/totesys", "arn:aws:kms:eu-west-2:123456789012:alias/totesys"],
        ),
    ],
)
def test_parameter_patterns_accept_and_reject(
    template: dict[str, Any], parameter: str, accepted: list[str], rejected: list[str]
) -> None:
    # CloudFormation matches AllowedPattern against the whole value (Java regex semantics).
    pattern = re.compile(template["Parameters"][parameter]["AllowedPattern"])
    assert [value for value in accepted if not pattern.fullmatch(value)] == []
    assert [value for value in rejected if pattern.fullmatch(value)] == []


def test_every_parameter_is_used(template: dict[str, Any]) -> None:
    text = repr({k: v for k, v in template.items() if k != "Parameters"})
    unused = [
        name
        for name in template["Parameters"]
        if f"'Ref': '{name}'" not in text and "${" + name + "}" not in text
    ]
    assert unused == []


def test_no_resource_is_left_unnamed_by_alerts(resources: dict[str, Any]) -> None:
    # Every alarm and rule that alerts must point at a topic that exists.
    for name, resource in resources.items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            for action in as_list(resource["Properties"].get("AlarmActions", [])):
                assert action == ref("AlertTopic"), name
