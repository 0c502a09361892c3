"""Template tidying that keeps cfn-lint quiet without acknowledging anything.

CDK puts an explicit ``DependsOn`` on a Lambda function for the IAM role it already names through
``Fn::GetAtt``; CloudFormation orders the two anyway, and cfn-lint reports the duplicate (W3005). The
overrides below drop just that entry, for the ingestion function and for CDK's own custom-resource
providers (bucket emptying, default security-group restriction), leaving every other dependency.
"""

from __future__ import annotations

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_lambda as lambda_

from stacks.nag import logical_id


def drop_role_dependency(function: lambda_.Function) -> None:
    """Keep the function's dependency on its role's policy, drop the one on the role itself."""
    role = function.role
    if role is None or role.node.scope is not function:
        return  # an imported role: CDK adds no dependency on it
    policy = role.node.try_find_child("DefaultPolicy")
    remaining = [logical_id(policy)] if policy is not None else []
    cfn_function = function.node.default_child
    if not isinstance(cfn_function, CfnResource):
        raise TypeError(f"{function.node.path} has no CloudFormation resource to override")
    if remaining:
        cfn_function.add_override("DependsOn", remaining)
    else:
        cfn_function.add_deletion_override("DependsOn")


def drop_provider_role_dependencies(stack: Stack) -> None:
    """The same for the handlers of CDK's custom-resource providers (stack-level ``Custom::...`` nodes)."""
    for child in stack.node.children:
        if not child.node.id.startswith("Custom::"):
            continue
        handler = child.node.try_find_child("Handler")
        if isinstance(handler, CfnResource) and child.node.try_find_child("Role") is not None:
            handler.add_deletion_override("DependsOn")
