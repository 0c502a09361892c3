"""Who may do what to whom, read off a synthesized template: every edge where an AWS service acts on a
resource of the stack (an alarm publishing to the topic, a rule sending to a queue, Lambda writing to a
dead-letter queue...), and the policy statement that allows it.

moto authorizes nothing, so a deploy to the emulator cannot show a missing permission; AWS shows it
only as silence (no alarm mail, no event in the queue). This evaluator stands in for AWS's judgement:
`discover_edges` finds the edges from the resources' own properties (a new alarm, rule or function is
checked without touching this file), the template's intrinsics are rendered into concrete ARNs of a
fictitious account (`Renderer`), and `evaluate` looks for an Allow, in the target's resource policy or
in the acting role's policies, that matches the service, the action, the resource and the request's
condition keys, with no Deny that matches too. What no template can show is said so: a lab account's
existing role, and the edges AWS allows without any policy.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
# The ARN of a resource, by type, from its logical id (a stand-in for the physical name).
_ARNS = {
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{id}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{id}",
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{id}",
    "AWS::CloudWatch::Alarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{id}",
    "AWS::Events::Rule": "arn:aws:events:{region}:{account}:rule/{id}",
    "AWS::Scheduler::Schedule": "arn:aws:scheduler:{region}:{account}:schedule/default/{id}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{id}",
    "AWS::EC2::FlowLog": "arn:aws:ec2:{region}:{account}:vpc-flow-log/{id}",
}
_REFS = {
    "AWS::SQS::Queue": "https://sqs.{region}.amazonaws.com/{account}/{id}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{id}",
    "AWS::S3::Bucket": "{name}",
}
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


class Renderer:
    """Concrete strings for a template's intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Split, Fn::Select,
    Fn::Sub)."""

    def __init__(self, template: Mapping[str, Any]) -> None:
        self.resources: Mapping[str, Any] = template["Resources"]

    def _format(self, patterns: Mapping[str, str], logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        pattern = patterns.get(kind, "{id}")
        return pattern.format(region=REGION, account=ACCOUNT, id=logical_id, name=logical_id.lower())

    def arn(self, logical_id: str) -> str:
        return self._format(_ARNS, logical_id)

    def render(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.render(item) for item in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            name = value["Ref"]
            return PSEUDO.get(name) or self._format(_REFS, name)
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.arn(logical_id) if attribute == "Arn" else f"{logical_id}.{attribute}"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.render(part)) for part in parts)
        if "Fn::Split" in value:
            separator, text = value["Fn::Split"]
            return str(self.render(text)).split(separator)
        if "Fn::Select" in value:
            index, items = value["Fn::Select"]
            return self.render(items)[int(index)]
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            for name, replacement in PSEUDO.items():
                text = text.replace(f"${{{name}}}", replacement)
            return text
        return {key: self.render(item) for key, item in value.items()}


@dataclass(frozen=True)
class Edge:
    """`source` makes `service` do `actions` on `resource` (an ARN) of the template's `target`."""

    kind: str
    source: str
    service: str
    actions: tuple[str, ...]
    target: str
    resource: str
    #: The role the service acts as (its rendered ARN), when it acts with one.
    role: str | None = None
    context: Mapping[str, str] = field(default_factory=dict)
    #: Why no policy is needed, for an edge AWS allows without one.
    implicit: str | None = None
    #: The service acts with the caller's credentials (a forward access session: Athena reading and
    #: writing S3 for a query), so `role` is the caller's and need not trust the service.
    forwarded: bool = False

    def describe(self) -> str:
        return f"{self.kind}: {self.source} -> {self.target} ({', '.join(self.actions)})"


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str, *, ignore_case: bool = False) -> bool:
    for pattern in _listed(patterns):
        pattern, text = (str(pattern).lower(), value.lower()) if ignore_case else (str(pattern), value)
        if fnmatch.fnmatchcase(text, pattern):
            return True
    return False


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """IAM's condition operators that the stack uses; a key missing from the request fails its test."""
    for operator, tests in condition.items():
        base = operator.removesuffix("IfExists")
        for key, expected in tests.items():
            if key not in context:
                if operator.endswith("IfExists"):
                    continue
                return False
            actual = context[key]
            if base in {"StringEquals", "ArnEquals"}:
                held = actual in [str(item) for item in _listed(expected)]
            elif base in {"StringLike", "ArnLike"}:
                held = _matches(expected, actual)
            elif base == "Bool":
                held = actual.lower() == str(expected).lower()
            elif base == "NumericLessThan":
                held = float(actual) < float(expected)
            else:
                raise ValueError(f"condition operator {operator} is not understood by this evaluator")
            if not held:
                return False
    return True


def _principal_matches(principal: Any, service: str, role: str | None) -> bool:
    if principal == "*" or principal == {"AWS": "*"}:
        return True
    if not isinstance(principal, dict):
        return False
    return service in _listed(principal.get("Service", [])) or (
        role is not None and role in _listed(principal.get("AWS", []))
    )


def _statement_applies(
    statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    if "Action" in statement and not _matches(statement["Action"], action, ignore_case=True):
        return False
    if "Resource" in statement and not _matches(statement["Resource"], resource):
        return False
    if "NotResource" in statement and _matches(statement["NotResource"], resource):
        return False
    return _condition_holds(statement.get("Condition", {}), context)


@dataclass(frozen=True)
class Verdict:
    edge: Edge
    allowed: bool
    #: The policy (and statement) that allows it, or why nothing needs to, or what is missing.
    reason: str


class Stack:
    """A rendered template: its resource policies by target, its roles' policies, and its edges."""

    def __init__(
        self,
        template: Mapping[str, Any],
        external_roles: Mapping[str, str] | None = None,
        external_profiles: Mapping[str, str] | None = None,
    ) -> None:
        self.template = template
        self.renderer = Renderer(template)
        self.resources: Mapping[str, Any] = template["Resources"]
        #: Roles the stack uses but does not define (a lab's LabRole), by rendered ARN, with what grants them.
        self.external_roles = dict(external_roles or {})
        #: Instance profiles the stack uses but does not define, by name, with the ARN of their role.
        self.external_profiles = dict(external_profiles or {})

    def of_type(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, resource in self.resources.items():
            if resource["Type"] == kind:
                yield name, resource

    def target_of(self, value: Any) -> str | None:
        """The logical id an ARN or Ref names."""
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in self.resources:
            return str(value["Ref"])
        return None

    def resource_policies(self, target: str) -> list[tuple[str, dict[str, Any]]]:
        """(policy name, rendered statement) of every resource policy attached to `target`."""
        found = []
        for kind, key in (
            ("AWS::SNS::TopicPolicy", "Topics"),
            ("AWS::SQS::QueuePolicy", "Queues"),
            ("AWS::S3::BucketPolicy", "Bucket"),
        ):
            for name, policy in self.of_type(kind):
                if {"Ref": target} in _listed(policy["Properties"][key]):
                    document = self.renderer.render(policy["Properties"]["PolicyDocument"])
                    found += [(name, statement) for statement in _statements(document)]
        for name, permission in self.of_type("AWS::Lambda::Permission"):
            properties = permission["Properties"]
            if self.target_of(properties["FunctionName"]) == target:
                condition = {}
                if "SourceArn" in properties:
                    condition["ArnLike"] = {"aws:SourceArn": self.renderer.render(properties["SourceArn"])}
                found.append(
                    (
                        name,
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": properties["Principal"]},
                            "Action": properties["Action"],
                            "Resource": self.renderer.arn(target),
                            "Condition": condition,
                        },
                    )
                )
        return found

    def role_policies(self, role_arn: str) -> list[tuple[str, dict[str, Any]]] | None:
        """(policy name, statement) of a template role's policies; None for a role outside the template."""
        role = next(
            (name for name, _ in self.of_type("AWS::IAM::Role") if self.renderer.arn(name) == role_arn), None
        )
        if role is None:
            return None
        found = []
        for name, policy in self.of_type("AWS::IAM::Policy"):
            if {"Ref": role} in policy["Properties"].get("Roles", []):
                document = self.renderer.render(policy["Properties"]["PolicyDocument"])
                found += [(name, statement) for statement in _statements(document)]
        for inline in self.resources[role]["Properties"].get("Policies", []):
            document = self.renderer.render(inline["PolicyDocument"])
            found += [(f"{role}/{inline['PolicyName']}", statement) for statement in _statements(document)]
        return found

    def role_trusts(self, role_arn: str, service: str) -> bool:
        role = next(name for name, _ in self.of_type("AWS::IAM::Role") if self.renderer.arn(name) == role_arn)
        trust = self.resources[role]["Properties"]["AssumeRolePolicyDocument"]
        return any(
            statement["Effect"] == "Allow"
            and _matches(statement["Action"], "sts:AssumeRole")
            and service in _listed(statement.get("Principal", {}).get("Service", []))
            for statement in _statements(trust)
        )


def _request_context(stack: Stack, source: str, **extra: str) -> dict[str, str]:
    context = {
        "aws:SourceAccount": ACCOUNT,
        "aws:SecureTransport": "true",
        "s3:TlsVersion": "1.3",
        **extra,
    }
    if source in stack.resources:
        context["aws:SourceArn"] = stack.renderer.arn(source)
    return context


def discover_edges(stack: Stack) -> list[Edge]:
    """Every service-to-resource edge the template's resources declare."""
    edges: list[Edge] = []
    render, arn = stack.renderer.render, stack.renderer.arn
    for name, alarm in stack.of_type("AWS::CloudWatch::Alarm"):
        for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            for action in alarm["Properties"].get(key, []):
                topic = stack.target_of(action)
                if topic:
                    edges.append(
                        Edge(
                            "CloudWatch alarm -> SNS topic",
                            name,
                            "cloudwatch.amazonaws.com",
                            ("sns:Publish",),
                            topic,
                            arn(topic),
                            context=_request_context(stack, name),
                        )
                    )
    for name, rule in stack.of_type("AWS::Events::Rule"):
        for target in rule["Properties"].get("Targets", []):
            queue = stack.target_of(target["Arn"])
            role = render(target["RoleArn"]) if "RoleArn" in target else None
            edges.append(
                Edge(
                    "EventBridge rule -> SQS queue",
                    name,
                    "events.amazonaws.com",
                    ("sqs:SendMessage",),
                    str(queue),
                    arn(str(queue)),
                    role,
                    _request_context(stack, name),
                )
            )
    for name, schedule in stack.of_type("AWS::Scheduler::Schedule"):
        target = schedule["Properties"]["Target"]
        role = str(render(target["RoleArn"]))
        invoked = str(stack.target_of(target["Arn"]))
        action = (
            "lambda:InvokeFunction"
            if stack.resources[invoked]["Type"] == "AWS::Lambda::Function"
            else "sqs:SendMessage"
        )
        context = _request_context(stack, name)
        edges.append(
            Edge(
                "Scheduler -> its target",
                name,
                "scheduler.amazonaws.com",
                (action,),
                invoked,
                arn(invoked),
                role,
                context,
            )
        )
        if "DeadLetterConfig" in target:
            queue = str(stack.target_of(target["DeadLetterConfig"]["Arn"]))
            edges.append(
                Edge(
                    "Scheduler -> its dead-letter queue",
                    name,
                    "scheduler.amazonaws.com",
                    ("sqs:SendMessage",),
                    queue,
                    arn(queue),
                    role,
                    context,
                )
            )
    for name, function in stack.of_type("AWS::Lambda::Function"):
        dead_letter = function["Properties"].get("DeadLetterConfig", {}).get("TargetArn")
        if dead_letter:
            queue = str(stack.target_of(dead_letter))
            edges.append(
                Edge(
                    "Lambda (async failures) -> its dead-letter queue",
                    name,
                    "lambda.amazonaws.com",
                    ("sqs:SendMessage",),
                    queue,
                    arn(queue),
                    str(render(function["Properties"]["Role"])),
                    _request_context(stack, name),
                )
            )
    for _, mapping in stack.of_type("AWS::Lambda::EventSourceMapping"):
        queue = str(stack.target_of(mapping["Properties"]["EventSourceArn"]))
        function = str(stack.target_of(mapping["Properties"]["FunctionName"]))
        role = str(render(stack.resources[function]["Properties"]["Role"]))
        edges.append(
            Edge(
                "Lambda event source mapping -> SQS queue",
                function,
                "lambda.amazonaws.com",
                ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
                queue,
                arn(queue),
                role,
                _request_context(stack, function),
            )
        )
    for name, queue in stack.of_type("AWS::SQS::Queue"):
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive:
            dead_letter = str(stack.target_of(redrive["deadLetterTargetArn"]))
            allow = stack.resources[dead_letter]["Properties"].get("RedriveAllowPolicy")
            edges.append(
                Edge(
                    "SQS redrive -> dead-letter queue",
                    name,
                    "sqs.amazonaws.com",
                    ("sqs:SendMessage",),
                    dead_letter,
                    arn(dead_letter),
                    implicit=None
                    if allow
                    else "none needed: SQS moves messages to a dead-letter queue of the same account; the queue has no "
                    "RedriveAllowPolicy, so every source queue may use it (SQS Developer Guide, dead-letter queues)",
                )
            )
    for name, bucket in stack.of_type("AWS::S3::Bucket"):
        properties = bucket["Properties"]
        if (
            properties.get("NotificationConfiguration", {})
            .get("EventBridgeConfiguration", {})
            .get("EventBridgeEnabled")
        ):
            edges.append(
                Edge(
                    "S3 -> EventBridge (default bus)",
                    name,
                    "s3.amazonaws.com",
                    ("events:PutEvents",),
                    "default event bus",
                    f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
                    implicit="none needed: S3 sends its events to the account's default event bus, which accepts AWS "
                    "services' events without a resource policy (S3 User Guide, 'Using EventBridge')",
                )
            )
        logging = properties.get("LoggingConfiguration")
        if logging:
            log_bucket = str(stack.target_of(logging["DestinationBucketName"]))
            key = f"{arn(log_bucket)}/{logging.get('LogFilePrefix', '')}2024-01-02-00-00-00-0123456789ABCDEF"
            edges.append(
                Edge(
                    "S3 server access logs -> log bucket",
                    name,
                    "logging.s3.amazonaws.com",
                    ("s3:PutObject",),
                    log_bucket,
                    key,
                    context=_request_context(stack, name),
                )
            )
    for name, flow_log in stack.of_type("AWS::EC2::FlowLog"):
        if flow_log["Properties"].get("LogDestinationType") != "s3":
            continue
        destination = str(render(flow_log["Properties"]["LogDestination"]))
        log_bucket = str(stack.target_of(flow_log["Properties"]["LogDestination"]["Fn::Join"][1][0]))
        context = _request_context(
            stack,
            "",
            **{
                "aws:SourceArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:*",
                "s3:x-amz-acl": "bucket-owner-full-control",
            },
        )
        key = f"{destination.rstrip('/')}/AWSLogs/{ACCOUNT}/vpcflowlogs/{REGION}/2024/01/02/x.log.gz"
        edges.append(
            Edge(
                "VPC flow logs -> log bucket (objects)",
                name,
                "delivery.logs.amazonaws.com",
                ("s3:PutObject",),
                log_bucket,
                key,
                context=context,
            )
        )
        edges.append(
            Edge(
                "VPC flow logs -> log bucket (its ACL)",
                name,
                "delivery.logs.amazonaws.com",
                ("s3:GetBucketAcl",),
                log_bucket,
                arn(log_bucket),
                context=context,
            )
        )
    from tests.infra.lake_edges import lake_edges

    return edges + lake_edges(stack, stack.external_profiles)


def _first(
    statements: list[tuple[str, dict[str, Any]]], effect: str, edge: Edge, action: str, *, principal: bool
) -> str | None:
    for name, statement in statements:
        if statement.get("Effect") != effect:
            continue
        if principal and not _principal_matches(statement.get("Principal"), edge.service, edge.role):
            continue
        if _statement_applies(statement, action, edge.resource, edge.context):
            return f"{name}{' (' + statement['Sid'] + ')' if statement.get('Sid') else ''}"
    return None


def evaluate(stack: Stack, edge: Edge) -> Verdict:
    """Allowed when every action has an Allow (resource policy, or the acting role's) and no Deny."""
    if edge.implicit:
        return Verdict(edge, True, edge.implicit)
    resource_statements = stack.resource_policies(edge.target)
    role_statements = stack.role_policies(edge.role) if edge.role else []
    reasons = []
    for action in edge.actions:
        denied = _first(resource_statements, "Deny", edge, action, principal=True)
        if denied:
            return Verdict(edge, False, f"{action} denied by {denied}")
        allowed = _first(resource_statements, "Allow", edge, action, principal=True)
        if edge.role and role_statements is None:
            granted = stack.external_roles.get(edge.role)
            if granted is None:
                return Verdict(
                    edge, False, f"{action}: role {edge.role} is neither in the template nor known"
                )
            reasons.append(allowed or granted)
            continue
        if edge.role and not edge.forwarded and not stack.role_trusts(edge.role, edge.service):
            return Verdict(edge, False, f"{edge.role} does not trust {edge.service}")
        if edge.role and role_statements is not None:
            allowed = allowed or _first(role_statements, "Allow", edge, action, principal=False)
            if _first(role_statements, "Deny", edge, action, principal=False):
                return Verdict(edge, False, f"{action} denied by the role's policy")
        if not allowed:
            return Verdict(edge, False, f"no statement allows {action} on {edge.resource}")
        reasons.append(allowed)
    return Verdict(edge, True, "; ".join(dict.fromkeys(reasons)))


def verdicts(
    template: Mapping[str, Any],
    external_roles: Mapping[str, str] | None = None,
    external_profiles: Mapping[str, str] | None = None,
) -> list[Verdict]:
    stack = Stack(template, external_roles, external_profiles)
    return [evaluate(stack, edge) for edge in discover_edges(stack)]


def refused_verdicts(
    template: Mapping[str, Any],
    external_roles: Mapping[str, str] | None = None,
    external_profiles: Mapping[str, str] | None = None,
) -> list[Verdict]:
    """The verdicts on the edges that must be refused (tests/infra/lake_edges.py: the lake's)."""
    from tests.infra.lake_edges import refused_edges

    stack = Stack(template, external_roles, external_profiles)
    return [evaluate(stack, edge) for edge in refused_edges(stack, stack.external_profiles)]


def table(found: list[Verdict]) -> str:
    """One line per edge: what, and the policy that allows it (for the report)."""
    return "\n".join(f"{'ok  ' if v.allowed else 'FAIL'} {v.edge.describe()}: {v.reason}" for v in found)


def copy(template: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(template))
