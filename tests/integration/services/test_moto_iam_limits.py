"""Why local IAM is enforced in the clients and not by moto's server (docs/adr/0011).

moto 5.2.5 with IAM authorization on, a role assumed through its STS: a least-privilege
grant on a secret's own ARN is refused, because moto authorizes Secrets Manager (and Glue)
requests against the resource "*", which no ARN-scoped statement matches. The template's
roles name their resources, so moto's enforcement would refuse every stage. When this test
fails, moto decides on the real resource and its server can do the enforcement.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin

from local.services import MotoServer

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@pytest.fixture
def iam_enforced() -> Iterator[None]:
    """moto's IAM authorization on for the test (a process-wide setting), then off again."""
    before = settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count
    yield
    settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = before


def test_moto_refuses_a_role_its_own_secret_when_iam_is_on(
    aws: str, moto_server: MotoServer, iam_enforced: None
) -> None:
    iam, secrets = boto3.client("iam"), boto3.client("secretsmanager")
    arn = secrets.create_secret(Name="limits/db", SecretString="{}")["ARN"]
    admin = iam.create_user(UserName="local-admin")["User"]["Arn"]
    iam.put_user_policy(
        UserName="local-admin", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL)
    )
    key = iam.create_access_key(UserName="local-admin")["AccessKey"]
    trust = {"Effect": "Allow", "Principal": {"AWS": admin}, "Action": "sts:AssumeRole"}
    iam.create_role(
        RoleName="reader",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )
    grant = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arn}
    iam.put_role_policy(
        RoleName="reader",
        PolicyName="own-secret",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [grant]}),
    )

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # what INITIAL_NO_AUTH_ACTION_COUNT=0 sets
    ActionAuthenticatorMixin.request_count = 0
    as_admin: dict[str, Any] = {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
        "aws_session_token": None,
    }
    creds = boto3.client("sts", **as_admin).assume_role(
        RoleArn="arn:aws:iam::123456789012:role/reader", RoleSessionName="ingest"
    )["Credentials"]
    as_role = boto3.client(
        "secretsmanager",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    with pytest.raises(ClientError) as refused:
        as_role.get_secret_value(SecretId=arn)
    # moto answers this JSON-protocol service in XML, so botocore keeps the status as code
    error = refused.value.response["Error"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "<Code>AccessDenied</Code>" in error["Message"]
    assert (
        "User: arn:aws:sts::123456789012:assumed-role/reader/ingest is not authorized to "
        "perform: secretsmanager:GetSecretValue</Message>"
    ) in error["Message"]
