"""``dashboard_login=cognito``: the user pool, its hosted UI and app client, the instance's access to
the client, the dashboard unit's settings, and no password secret; cdk-nag and cfn-lint stay clean."""

from __future__ import annotations

import json

from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file

from stacks.dashboard_identity import OIDC_SETTINGS
from stacks.instance_bootstrap import DASHBOARD_ENVIRONMENT_FILE, DASHBOARD_HOME
from tests.infra.conftest import Synthesized
from tests.infra.test_dashboard_access import user_data
from tests.infra.test_policy_checks import LINT_REGIONS, _violations


def _distribution_domain(cognito: Synthesized) -> dict:
    name, _ = cognito.only("AWS::CloudFront::Distribution")
    return {"Fn::GetAtt": [name, "DomainName"]}


def dashboard_environment(synthesized: Synthesized) -> dict[str, str]:
    script = user_data(synthesized)
    body = script.split(f"cat > {DASHBOARD_ENVIRONMENT_FILE} <<'PIPELINE_EOF'\n")[1].split("\nPIPELINE_EOF")[
        0
    ]
    return dict(line.split("=", 1) for line in body.splitlines())


def test_the_user_pool_admits_only_invited_users_signing_in_by_email(cognito: Synthesized) -> None:
    pool_name, pool = cognito.only("AWS::Cognito::UserPool")
    properties = pool["Properties"]
    assert properties["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert properties["UsernameAttributes"] == ["email"]
    assert properties["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    # dev destroys its data with the stack: the users go too, as the buckets and database do.
    assert (pool["DeletionPolicy"], pool["UpdateReplacePolicy"]) == ("Delete", "Delete")

    _, domain = cognito.only("AWS::Cognito::UserPoolDomain")
    assert domain["Properties"]["UserPoolId"] == {"Ref": pool_name}
    assert domain["Properties"]["Domain"] == {
        "Fn::Join": ["-", ["market-weather-dev", {"Ref": "AWS::AccountId"}]]
    }


def test_the_app_client_uses_the_code_flow_with_a_secret_and_calls_back_to_cloudfront(cognito) -> None:
    _, client = cognito.only("AWS::Cognito::UserPoolClient")
    properties = client["Properties"]
    domain = _distribution_domain(cognito)
    assert properties["GenerateSecret"] is True
    assert properties["AllowedOAuthFlows"] == ["code"]
    assert properties["AllowedOAuthFlowsUserPoolClient"] is True
    assert sorted(properties["AllowedOAuthScopes"]) == ["email", "openid", "profile"]
    assert properties["CallbackURLs"] == [{"Fn::Join": ["", ["https://", domain, "/oauth2callback"]]}]
    assert properties["LogoutURLs"] == [{"Fn::Join": ["", ["https://", domain, "/"]]}]
    assert properties["SupportedIdentityProviders"] == ["COGNITO"]
    assert "ALLOW_USER_PASSWORD_AUTH" not in properties.get("ExplicitAuthFlows", [])


def test_the_instance_may_describe_this_client_only_and_no_secret_leaves_through_the_stack(cognito) -> None:
    pool_name, _ = cognito.only("AWS::Cognito::UserPool")
    statements = [
        statement
        for policy in cognito.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "cognito" in json.dumps(statement["Action"])
    ]
    assert statements == [
        {
            "Action": "cognito-idp:DescribeUserPoolClient",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [pool_name, "Arn"]},
        }
    ]
    template = json.dumps(cognito.template_json)
    assert "ClientSecret" not in template
    assert "ClientSecret" not in user_data(cognito)


def test_the_dashboard_unit_gets_the_oidc_settings_and_a_home_of_its_own(cognito: Synthesized) -> None:
    pool_name, _ = cognito.only("AWS::Cognito::UserPool")
    client_name, _ = cognito.only("AWS::Cognito::UserPoolClient")
    distribution_name, _ = cognito.only("AWS::CloudFront::Distribution")
    environment = dashboard_environment(cognito)

    assert set(OIDC_SETTINGS) <= set(environment)
    assert environment["DASHBOARD_OIDC_POOL_ID"] == f"REF_{pool_name}"
    assert environment["DASHBOARD_OIDC_CLIENT_ID"] == f"REF_{client_name}"
    assert environment["DASHBOARD_OIDC_REGION"] == "REF_AWS__Region"
    assert environment["DASHBOARD_OIDC_REDIRECT_URI"] == (
        f"https://GETATT_{distribution_name}_DomainName/oauth2callback"
    )
    assert environment["PIPELINE_HOME"] == DASHBOARD_HOME
    assert "DASHBOARD_LOGIN_SECRET_ARN" not in environment
    assert "StateDirectory=pipeline-dashboard\nStateDirectoryMode=0700" in user_data(cognito)


def test_no_password_secret_is_made_and_the_outputs_say_how_to_add_a_user(cognito, dev) -> None:
    assert not [
        name for name in cognito.resources("AWS::SecretsManager::Secret") if name.startswith("AppLogin")
    ]
    outputs = cognito.template_json["Outputs"]
    pool_name, _ = cognito.only("AWS::Cognito::UserPool")
    assert "DashboardLoginCommand" not in outputs
    assert outputs["DashboardUserPoolId"]["Value"] == {"Ref": pool_name}
    command = outputs["AddDashboardUserCommand"]["Value"]["Fn::Join"][1]
    assert command[0] == "aws cognito-idp admin-create-user --region "
    assert {"Ref": pool_name} in command
    assert "Name=email,Value=" in command[-1]
    # The password login stays the default, with no Cognito at all.
    assert not dev.resources("AWS::Cognito::UserPool")
    assert "DashboardLoginCommand" in dev.template_json["Outputs"]
    assert "DASHBOARD_OIDC_POOL_ID" not in dashboard_environment(dev)


def test_the_address_is_associated_apart_so_the_user_data_may_name_cloudfront(cognito, dev) -> None:
    # Instance -> (user data) distribution -> (origin) address: the address must not depend on the instance.
    address_name, address = cognito.only("AWS::EC2::EIP")
    instance_name, _ = cognito.only("AWS::EC2::Instance")
    _, association = cognito.only("AWS::EC2::EIPAssociation")
    assert "InstanceId" not in address["Properties"]
    assert association["Properties"] == {
        "AllocationId": {"Fn::GetAtt": [address_name, "AllocationId"]},
        "InstanceId": {"Ref": instance_name},
    }
    # The default keeps its address attached as before (no replacement of existing deployments).
    _, dev_address = dev.only("AWS::EC2::EIP")
    assert "InstanceId" in dev_address["Properties"]
    assert not dev.resources("AWS::EC2::EIPAssociation")


def test_cdk_nag_and_cfn_lint_find_nothing_in_the_cognito_template(cognito: Synthesized) -> None:
    report = AwsSolutionsChecks().validate_scope(cognito.app)
    assert _violations(report) == []
    assert report.success
    matches = lint_file(cognito.template_path, config=ManualArgs(regions=LINT_REGIONS))
    assert [f"{match.rule.id} {match.message}" for match in matches] == []
