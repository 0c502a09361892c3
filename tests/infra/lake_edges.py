"""The lake's edges (``-c lake=true``), for tests/infra/service_edges.py: who may touch the lake bucket, the
Glue database and the Athena workgroup, and who must not.

The edges are found from the template's own lake resources (the Glue database's location names the
bucket and the warehouse prefix, the workgroup its results location) and the instance's role (through
its instance profile). Allowed:

- the instance reads, writes and lists the warehouse's objects (pyiceberg's tables, DuckDB's reads);
- the instance reads and changes the catalog's entries of its database and the database's tables;
- the instance runs queries in the workgroup;
- Athena, running the instance's query with the instance's credentials (a forward access session, so
  the role need not trust Athena), reads the warehouse and writes and reads its results prefix.

Refused (`refused_edges`): every Lambda's role on the same four (the pipeline's Lambdas: CDK's
auto-delete handler is the bucket's own, allowed by the bucket's policy to empty it); the instance on an object of the lake
bucket outside both prefixes, on another Glue database and on another workgroup.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.infra.service_edges import Edge, Stack

EC2 = "ec2.amazonaws.com"
ATHENA = "athena.amazonaws.com"
LAMBDA = "lambda.amazonaws.com"
# A table the ETL writes (its keys as pyiceberg's Glue catalog lays them out under the warehouse).
EXAMPLE_TABLE = "stock_daily"
WAREHOUSE_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
GLUE_ACTIONS = ("glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable")
ATHENA_ACTIONS = ("athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults")


@dataclass(frozen=True)
class Lake:
    """The lake as the template declares it: bucket (logical id), prefixes, database, workgroup."""

    bucket: str
    warehouse_prefix: str
    results_prefix: str
    database: str
    database_id: str
    workgroup: str
    workgroup_id: str


def _bucket_reference(stack: Stack, value: Any) -> str | None:
    """The logical id of the first bucket `value` refers to (in a Ref or Fn::GetAtt, however nested)."""
    if isinstance(value, list):
        return next((found for item in value if (found := _bucket_reference(stack, item))), None)
    if isinstance(value, dict):
        target = stack.target_of(value)
        if target and stack.resources[target]["Type"] == "AWS::S3::Bucket":
            return target
        return next((found for item in value.values() if (found := _bucket_reference(stack, item))), None)
    return None


def _prefix(stack: Stack, location: Any, bucket: str) -> str:
    """The key prefix of an ``s3://bucket/prefix`` location (rendered), without the leading slash."""
    rendered = str(stack.renderer.render(location))
    return rendered.removeprefix(f"s3://{bucket.lower()}").strip("/")


def find_lake(stack: Stack) -> Lake | None:
    databases = list(stack.of_type("AWS::Glue::Database"))
    groups = list(stack.of_type("AWS::Athena::WorkGroup"))
    if not databases or not groups:
        return None
    database_id, database = databases[0]
    group_id, group = groups[0]
    database_input = database["Properties"]["DatabaseInput"]
    bucket = _bucket_reference(stack, database_input["LocationUri"])
    output = group["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"]
    if bucket is None or _bucket_reference(stack, output) != bucket:
        raise AssertionError("the lake's database and workgroup do not name one bucket of the template")
    return Lake(
        bucket=bucket,
        warehouse_prefix=_prefix(stack, database_input["LocationUri"], bucket),
        results_prefix=_prefix(stack, output, bucket),
        database=str(database_input["Name"]),
        database_id=database_id,
        workgroup=str(group["Properties"]["Name"]),
        workgroup_id=group_id,
    )


def instance_role(stack: Stack, external_profiles: Mapping[str, str]) -> tuple[str, str]:
    """(instance logical id, the ARN of the role its instance profile holds)."""
    name, instance = next(stack.of_type("AWS::EC2::Instance"))
    profile = instance["Properties"]["IamInstanceProfile"]
    target = stack.target_of(profile)
    if target is None:
        rendered = str(stack.renderer.render(profile))
        return name, external_profiles.get(rendered, f"the role of instance profile {rendered}")
    role = stack.target_of(stack.resources[target]["Properties"]["Roles"][0])
    return name, stack.renderer.arn(str(role))


def _arns(lake: Lake) -> dict[str, str]:
    from tests.infra.service_edges import ACCOUNT, REGION

    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    bucket = f"arn:aws:s3:::{lake.bucket.lower()}"
    return {
        "bucket": bucket,
        "warehouse object": f"{bucket}/{lake.warehouse_prefix}/{lake.database}.db/{EXAMPLE_TABLE}/data/0.parquet",
        "results object": f"{bucket}/{lake.results_prefix}/0123abcd-query.csv",
        "other object": f"{bucket}/elsewhere/file.parquet",
        "catalog": f"{glue}:catalog",
        "database": f"{glue}:database/{lake.database}",
        "table": f"{glue}:table/{lake.database}/{EXAMPLE_TABLE}",
        "other database": f"{glue}:database/other_database",
        "other table": f"{glue}:table/other_database/{EXAMPLE_TABLE}",
        "workgroup": f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{lake.workgroup}",
        "other workgroup": f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/primary",
    }


def _access(
    stack: Stack, lake: Lake, kind: str, source: str, service: str, role: str, *, forwarded: bool = False
) -> Iterator[Edge]:
    """One edge per (actions, resource) of a principal's use of the lake; `kind` prefixes each."""
    from tests.infra.service_edges import Edge, _request_context

    arns = _arns(lake)
    extra = {"aws:CalledVia": ATHENA} if forwarded else {}
    warehouse_context = _request_context(stack, "", **{"s3:prefix": f"{lake.warehouse_prefix}/", **extra})
    context = _request_context(stack, "", **extra)
    s3_edges = {
        "warehouse objects": (WAREHOUSE_OBJECT_ACTIONS, "warehouse object", context),
        "list the warehouse": (("s3:ListBucket",), "bucket", warehouse_context),
    }
    if forwarded:  # Athena reads the tables' files, and writes and reads its results
        s3_edges = {
            "read the warehouse": (("s3:GetObject",), "warehouse object", context),
            "list the warehouse": (("s3:ListBucket",), "bucket", warehouse_context),
            "results objects": (("s3:PutObject", "s3:GetObject"), "results object", context),
            "results bucket location": (("s3:GetBucketLocation",), "bucket", context),
        }
    for what, (actions, resource, request) in s3_edges.items():
        yield Edge(
            f"{kind} -> lake bucket ({what})",
            source,
            service,
            actions,
            lake.bucket,
            arns[resource],
            role,
            request,
            forwarded=forwarded,
        )
    if forwarded:
        return
    for resource in ("catalog", "database", "table"):
        yield Edge(
            f"{kind} -> Glue ({resource})",
            source,
            service,
            GLUE_ACTIONS,
            lake.database_id,
            arns[resource],
            role,
            context,
        )
    yield Edge(
        f"{kind} -> Athena workgroup",
        source,
        service,
        ATHENA_ACTIONS,
        lake.workgroup_id,
        arns["workgroup"],
        role,
        context,
    )


def lake_edges(stack: Stack, external_profiles: Mapping[str, str]) -> list[Edge]:
    """The edges the lake needs, each of which must be allowed (none without a lake)."""
    lake = find_lake(stack)
    if lake is None:
        return []
    instance, role = instance_role(stack, external_profiles)
    return [
        *_access(stack, lake, "EC2 instance", instance, EC2, role),
        *_access(stack, lake, "Athena (the instance's query)", instance, ATHENA, role, forwarded=True),
    ]


def refused_edges(stack: Stack, external_profiles: Mapping[str, str]) -> list[Edge]:
    """The edges that must be refused: the Lambdas on the lake, the instance beside it."""
    from tests.infra.service_edges import Edge, _request_context

    lake = find_lake(stack)
    if lake is None:
        return []
    edges = []
    for name, function in stack.of_type("AWS::Lambda::Function"):
        if "CustomResourceProvider" in name:
            # CDK's own handlers (the auto-delete of a bucket's objects, its bucket's by design)
            continue
        role = str(stack.renderer.render(function["Properties"]["Role"]))
        # One edge per action: each must be refused on its own.
        edges += [
            replace(edge, actions=(action,))
            for edge in _access(stack, lake, f"Lambda {name}", name, LAMBDA, role)
            if edge.kind.endswith(("(warehouse objects)", "(table)", "Athena workgroup"))
            for action in edge.actions
        ]
    instance, role = instance_role(stack, external_profiles)
    arns, context = _arns(lake), _request_context(stack, "")
    for what, actions, target, resource in (
        ("lake bucket outside its prefixes", ("s3:GetObject", "s3:PutObject"), lake.bucket, "other object"),
        (
            "another Glue database",
            ("glue:GetDatabase", "glue:CreateTable"),
            lake.database_id,
            "other database",
        ),
        ("another database's table", ("glue:GetTable", "glue:UpdateTable"), lake.database_id, "other table"),
        ("another Athena workgroup", ("athena:StartQueryExecution",), lake.workgroup_id, "other workgroup"),
    ):
        edges += [
            Edge(f"EC2 instance -> {what}", instance, EC2, (action,), target, arns[resource], role, context)
            for action in actions
        ]
    return edges
