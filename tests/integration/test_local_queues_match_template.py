"""The local events queues are the deployed ones: what template.yaml declares for
EventsQueue and EventsDeadLetterQueue is what `make run` creates on LocalStack, so the two
cannot drift apart."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from csms_local import aws_local
from csms_local.sqs_poller import (
    DLQ_ATTRIBUTES,
    MAX_RECEIVE_COUNT,
    QUEUE_ATTRIBUTES,
    create_queues,
)

from tests.localstack_fixtures import local_aws_url  # noqa: F401 - the fixture

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags: `!GetAtt A.Arn` -> {"Fn::GetAtt": "A.Arn"}."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    assert isinstance(node, yaml.MappingNode)
    return {name: loader.construct_mapping(node, deep=True)}


CloudFormationLoader.add_multi_constructor("!", _tagged)


def template_queues() -> dict[str, dict[str, Any]]:
    resources = yaml.load(TEMPLATE.read_text(), Loader=CloudFormationLoader)["Resources"]
    return {
        name: resource.get("Properties", {})
        for name, resource in resources.items()
        if resource["Type"] == "AWS::SQS::Queue"
    }


def as_sqs_attributes(properties: dict[str, Any]) -> dict[str, str]:
    """CloudFormation queue properties in SetQueueAttributes' form (RedrivePolicy aside)."""
    attributes = {}
    for key, value in properties.items():
        if key in ("RedrivePolicy", "QueueName", "Tags"):
            continue
        attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return attributes


def test_the_template_declares_the_two_queues_the_local_stack_creates():
    queues = template_queues()

    assert set(queues) == {"EventsQueue", "EventsDeadLetterQueue"}
    assert as_sqs_attributes(queues["EventsQueue"]) == QUEUE_ATTRIBUTES
    assert as_sqs_attributes(queues["EventsDeadLetterQueue"]) == DLQ_ATTRIBUTES
    redrive = queues["EventsQueue"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": "EventsDeadLetterQueue.Arn"}
    assert int(redrive["maxReceiveCount"]) == MAX_RECEIVE_COUNT
    assert "RedrivePolicy" not in queues["EventsDeadLetterQueue"]


@pytest.mark.integration
def test_localstack_holds_the_queues_with_the_template_attributes(local_aws_url):  # noqa: F811
    created = create_queues(local_aws_url, name=f"match-{uuid.uuid4().hex[:8]}")
    sqs = aws_local.client("sqs", local_aws_url)

    def attributes(url: str) -> dict[str, str]:
        found: dict[str, str] = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["All"]
        )["Attributes"]
        return found

    queue, dlq = attributes(created["EVENTS_QUEUE_URL"]), attributes(created["EVENTS_DLQ_URL"])
    template = template_queues()
    for name, actual in (("EventsQueue", queue), ("EventsDeadLetterQueue", dlq)):
        expected = as_sqs_attributes(template[name])
        assert {key: actual.get(key) for key in expected} == expected, name
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == int(
        template["EventsQueue"]["RedrivePolicy"]["maxReceiveCount"]
    )
