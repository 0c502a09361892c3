"""The fan-out and the ETL's event path in the templates: shards, queues, dead letters, alarms, caps."""

from __future__ import annotations

import json
from typing import Any

from cli.main import cli
from stacks.etl_events import ETL_RECEIVES
from stacks.ingestion import SHARD_RECEIVES, SHARD_VISIBILITY, TIMEOUT
from stacks.instance_bootstrap import ETL_FOLLOW_SERVICE, SAFETY_NET_DAYS
from tests.infra.conftest import Synthesized, resolve_user_data


def _named(synthesized: Synthesized, resource_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    return next(
        (name, resource)
        for name, resource in synthesized.resources(resource_type).items()
        if name.startswith(prefix)
    )


def test_the_worker_consumes_the_shard_queue_one_shard_at_a_time_with_partial_batch_responses(
    any_mode: Synthesized,
) -> None:
    queue, _ = _named(any_mode, "AWS::SQS::Queue", "IngestionShardQueue")
    worker, _ = _named(any_mode, "AWS::Lambda::Function", "IngestionFunction")
    _, mapping = any_mode.only("AWS::Lambda::EventSourceMapping")
    properties = mapping["Properties"]
    assert properties["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert properties["FunctionName"] == {"Ref": worker}
    assert properties["BatchSize"] == 1
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # The concurrency cap: SQS's lowest; with the dispatcher, well under a lab account's 10.
    assert properties["ScalingConfig"] == {"MaximumConcurrency": 2}


def test_a_failed_shard_is_retried_alone_then_dead_lettered_and_alarmed(any_mode: Synthesized) -> None:
    _, queue = _named(any_mode, "AWS::SQS::Queue", "IngestionShardQueue")
    dead_letters, _ = _named(any_mode, "AWS::SQS::Queue", "IngestionShardDeadLetterQueue")
    redrive = queue["Properties"]["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dead_letters, "Arn"]},
        "maxReceiveCount": SHARD_RECEIVES,
    }
    # Longer than the worker may run, so a shard in progress is never handed to a second worker.
    assert (
        queue["Properties"]["VisibilityTimeout"] == SHARD_VISIBILITY.to_seconds() >= 6 * TIMEOUT.to_seconds()
    )
    watched = [
        alarm["Properties"]["Dimensions"][0]["Value"]
        for alarm in any_mode.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    ]
    assert {"Fn::GetAtt": [dead_letters, "QueueName"]} in watched


def test_the_dispatcher_is_scheduled_and_may_only_send_to_the_shard_queue(dev: Synthesized) -> None:
    dispatcher, function = _named(dev, "AWS::Lambda::Function", "IngestionDispatcher")
    queue, _ = _named(dev, "AWS::SQS::Queue", "IngestionShardQueue")
    assert function["Properties"]["Handler"] == "lambda_src.handler.dispatch"
    assert function["Properties"]["Environment"]["Variables"]["SHARD_QUEUE_URL"] == {"Ref": queue}
    _, schedule = dev.only("AWS::Scheduler::Schedule")
    assert schedule["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [dispatcher, "Arn"]}
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    policy = next(
        p for p in dev.resources("AWS::IAM::Policy").values() if p["Properties"]["Roles"] == [{"Ref": role}]
    )
    sends = [
        statement
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "sqs:SendMessage" in statement["Action"]
    ]
    # The shard queue, and the dead-letter queue its own failed invocations go to.
    dead_letters, _ = _named(dev, "AWS::SQS::Queue", "IngestionDeadLetterQueue")
    assert sorted(json.dumps(statement["Resource"]) for statement in sends) == sorted(
        json.dumps({"Fn::GetAtt": [name, "Arn"]}) for name in (queue, dead_letters)
    )


def test_both_functions_pace_for_the_concurrency_cap(any_mode: Synthesized) -> None:
    for prefix in ("IngestionFunction", "IngestionDispatcher"):
        _, function = _named(any_mode, "AWS::Lambda::Function", prefix)
        assert function["Properties"]["Environment"]["Variables"]["INGEST_CONCURRENCY"] == "2"


def test_new_raw_objects_reach_the_etl_queue_through_eventbridge_without_a_role(
    any_mode: Synthesized,
) -> None:
    raw_bucket, bucket = _named(any_mode, "AWS::S3::Bucket", "StorageRawBucket")
    assert bucket["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    etl_queue, queue = _named(any_mode, "AWS::SQS::Queue", "EtlEventsQueue")
    etl_dead_letters, _ = _named(any_mode, "AWS::SQS::Queue", "EtlEventsDeadLetterQueue")
    assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == ETL_RECEIVES
    assert queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": [etl_dead_letters, "Arn"]
    }
    rule_name, rule = any_mode.only("AWS::Events::Rule")
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [{"Ref": raw_bucket}]}, "object": {"key": [{"prefix": "raw/"}]}},
    }
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [etl_queue, "Arn"]} and "RoleArn" not in target
    # EventBridge sends through the queue's resource policy, for this rule only.
    policies = [
        statement
        for policy in any_mode.resources("AWS::SQS::QueuePolicy").values()
        if {"Ref": etl_queue} in policy["Properties"]["Queues"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert [statement["Condition"] for statement in policies] == [
        {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_name, "Arn"]}}}
    ]


def test_the_instance_drains_the_etl_queue_with_a_follow_service(any_mode: Synthesized) -> None:
    etl_queue, _ = _named(any_mode, "AWS::SQS::Queue", "EtlEventsQueue")
    _, instance = any_mode.only("AWS::EC2::Instance")
    user_data = resolve_user_data(instance["Properties"]["UserData"])
    assert f"ETL_QUEUE_URL=REF_{etl_queue}\n" in user_data
    assert f"/etc/systemd/system/{ETL_FOLLOW_SERVICE}" in user_data
    assert "ExecStart=/opt/pipeline/venv/bin/pipeline etl --follow" in user_data
    assert f"systemctl enable --now --no-block {ETL_FOLLOW_SERVICE}" in user_data
    # The safety net stays: the timer's run, over the last week's date partitions only.
    assert "OnCalendar=" in user_data and "Unit=pipeline-etl.service" in user_data
    assert f"ExecStart=/opt/pipeline/venv/bin/pipeline etl --recent-days {SAFETY_NET_DAYS}" in user_data
    options = {option for parameter in cli.commands["etl"].params for option in parameter.opts}
    assert {"--follow", "--recent-days"} <= options


def test_lab_mode_still_creates_no_iam_with_the_queues_and_the_event_path(lab: Synthesized) -> None:
    types = [resource["Type"] for resource in lab.template_json["Resources"].values()]
    assert not [kind for kind in types if kind.startswith("AWS::IAM::")]
    assert types.count("AWS::SQS::Queue") == 5 and "AWS::Events::Rule" in types
    assert "AWS::Lambda::EventSourceMapping" in types
    assert not [kind for kind in types if kind.startswith("Custom::")]
    assert json.dumps(lab.template_json).count("events.amazonaws.com") >= 1
