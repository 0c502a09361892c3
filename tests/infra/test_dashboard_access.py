"""How visitors reach the dashboard in each access mode: inbound rules, ports, origin restrictions, URL."""

from __future__ import annotations

import json

import pytest

from stacks.config import ConfigError, load_config
from stacks.dashboard_distribution import CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS
from stacks.instance_bootstrap import DASHBOARD_ENVIRONMENT_FILE, TLS_CERTIFICATE, TLS_KEY
from tests.infra.conftest import Synthesized, resolve_user_data

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"


def app_ingress(synthesized: Synthesized) -> list[dict]:
    """Every inbound rule of the app instance's security group, inline or a resource of its own."""
    name, group = next(
        (name, group)
        for name, group in synthesized.resources("AWS::EC2::SecurityGroup").items()
        if name.startswith("App")
    )
    separate = [
        {key: value for key, value in rule["Properties"].items() if key != "GroupId"}
        for rule in synthesized.resources("AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [name, "GroupId"]}
    ]
    return group["Properties"].get("SecurityGroupIngress", []) + separate


def user_data(synthesized: Synthesized) -> str:
    _, instance = synthesized.only("AWS::EC2::Instance")
    return resolve_user_data(instance["Properties"]["UserData"])


def dashboard_url(synthesized: Synthesized) -> str:
    return json.dumps(synthesized.template_json["Outputs"]["DashboardUrl"]["Value"])


@pytest.mark.parametrize(("mode", "port"), [("dev", 8501), ("production", 80)])
def test_cloudfront_mode_admits_only_cloudfronts_prefix_list_on_the_dashboard_port(synthesized, mode, port):
    deployment = synthesized(mode)

    [rule] = app_ingress(deployment)
    assert "CidrIp" not in rule
    assert rule["FromPort"] == rule["ToPort"] == port
    [mapping_name, region, key] = rule["SourcePrefixListId"]["Fn::FindInMap"]
    assert mapping_name.startswith("AppCloudFrontOriginFacing")
    assert (region, key) == ({"Ref": "AWS::Region"}, "PrefixList")
    mapping = deployment.template_json["Mappings"][mapping_name]
    assert mapping["us-east-1"] == {"PrefixList": "pl-3b927c52"}
    assert set(mapping) == set(CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS)


@pytest.mark.parametrize(("mode", "port"), [("dev", 8501), ("production", 80)])
def test_cloudfront_serves_https_uncached_with_every_viewer_header_for_websockets(synthesized, mode, port):
    deployment = synthesized(mode)

    _, distribution = deployment.only("AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["CachePolicyId"] == CACHING_DISABLED
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER
    assert set(behavior["AllowedMethods"]) >= {"GET", "POST", "OPTIONS"}
    [origin] = config["Origins"]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"
    assert origin["CustomOriginConfig"]["HTTPPort"] == port
    assert "compute-1.amazonaws.com" in json.dumps(origin["DomainName"])
    assert dashboard_url(deployment).startswith(
        '{"Fn::Join": ["", ["https://", {"Fn::GetAtt": ["DashboardCdn'
    )


def test_cloudfront_lets_in_only_allowed_cidr_viewers_when_it_is_narrowed(dev, production):
    assert not dev.resources("AWS::CloudFront::Function"), "0.0.0.0/0 needs no viewer filter"
    _, function = production.only("AWS::CloudFront::Function")
    code = function["Properties"]["FunctionCode"]
    network, mask = 198 << 24 | 51 << 16 | 100 << 8, 0xFFFFFF00
    assert f"=== {network}" in code and f"& {mask}" in code and "statusCode: 403" in code
    _, distribution = production.only("AWS::CloudFront::Distribution")
    [association] = distribution["Properties"]["DistributionConfig"]["DefaultCacheBehavior"][
        "FunctionAssociations"
    ]
    assert association["EventType"] == "viewer-request"


def test_tls_mode_in_a_lab_admits_allowed_cidr_over_https_with_a_first_boot_certificate(lab):
    assert app_ingress(lab) == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "Dashboard over TLS",
            "FromPort": 8501,
            "IpProtocol": "tcp",
            "ToPort": 8501,
        }
    ]
    assert not lab.resources("AWS::CloudFront::Distribution")
    script = user_data(lab)
    assert "openssl req -x509 -newkey rsa:2048 -nodes -days 825" in script
    assert f"STREAMLIT_SERVER_SSL_CERT_FILE={TLS_CERTIFICATE}" in script
    assert f"STREAMLIT_SERVER_SSL_KEY_FILE={TLS_KEY}" in script
    assert "--address 0.0.0.0" in script
    url = dashboard_url(lab)
    assert url.startswith('{"Fn::Join": ["", ["https://", {"Fn::GetAtt": ["AppPublicAddress')
    assert url.endswith(':8501"]]}')


def test_private_mode_has_no_inbound_rule_and_listens_on_localhost_for_the_tunnel(private):
    assert app_ingress(private) == []
    assert not private.resources("AWS::CloudFront::Distribution")
    script = user_data(private)
    assert "--address 127.0.0.1" in script
    assert "STREAMLIT_SERVER_SSL" not in script
    assert private.template_json["Outputs"]["DashboardUrl"]["Value"].startswith("http://localhost:8501")
    tunnel = json.dumps(private.template_json["Outputs"]["TunnelCommand"]["Value"])
    assert "AWS-StartPortForwardingSession" in tunnel and "portNumber" in tunnel


def test_the_dashboard_unit_reads_only_its_own_environment(any_mode: Synthesized) -> None:
    script = user_data(any_mode)
    dashboard_env = script.split(f"cat > {DASHBOARD_ENVIRONMENT_FILE} <<'PIPELINE_EOF'\n")[1].split(
        "\nPIPELINE_EOF"
    )[0]
    names = {line.split("=", 1)[0] for line in dashboard_env.splitlines()}
    assert {
        "DASHBOARD_DB_SECRET_ARN",
        "EXPLORER_DB_SECRET_ARN",
        "DASHBOARD_LOGIN_SECRET_ARN",
        "AWS_REGION",
    } <= names
    assert not names & {"DB_SECRET_ARN", "RAW_BUCKET", "DATABASE_URL"}
    assert "User=pipeline-dashboard" in script
    assert f"EnvironmentFile={DASHBOARD_ENVIRONMENT_FILE}" in script
    # The sign-in gate: nginx from the distribution, its files in the dashboard's own home.
    [packages] = [line for line in script.splitlines() if "dnf install -y -q python3.11" in line]
    assert packages.endswith(" nginx")
    assert "PIPELINE_HOME=/var/lib/pipeline-dashboard" in dashboard_env
    assert "StateDirectory=pipeline-dashboard" in script


@pytest.mark.parametrize("mode", ["dev", "production"])
def test_behind_cloudfront_the_gate_takes_the_client_address_cloudfront_forwards(synthesized, mode):
    assert "dashboard --port" in user_data(synthesized(mode))
    assert " --forwarded-for" in user_data(synthesized(mode))


def test_outside_cloudfront_the_gate_trusts_no_forwarded_address(lab, private):
    assert "--forwarded-for" not in user_data(lab)
    assert "--forwarded-for" not in user_data(private)


def test_the_login_password_is_generated_into_a_secret_the_instance_may_read(any_mode: Synthesized) -> None:
    login = next(
        secret
        for name, secret in any_mode.resources("AWS::SecretsManager::Secret").items()
        if name.startswith("AppLoginSecret")
    )
    generated = login["Properties"]["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "password"
    assert generated["SecretStringTemplate"] == '{"username": "admin"}'
    assert generated["PasswordLength"] >= 20


def test_lab_accounts_cannot_choose_cloudfront_and_a_bad_mode_is_one_clear_line():
    with pytest.raises(ConfigError, match="lab accounts cannot create CloudFront"):
        load_config({"lab": "true", "dashboard_access": "cloudfront"})
    with pytest.raises(ConfigError, match=r"dashboard_access.*cloudfront, tls, private"):
        load_config({"dashboard_access": "open"})
    assert load_config({}).access_mode == "cloudfront"
    assert load_config({"lab": True}).access_mode == "tls"


def test_the_tls_modes_certificate_names_the_public_address_visitors_use(lab):
    # The address exists before the instance (associated apart), so its first boot can name it.
    [(address_name, address)] = lab.resources("AWS::EC2::EIP").items()
    assert "InstanceId" not in address["Properties"]
    [(_, association)] = lab.resources("AWS::EC2::EIPAssociation").items()
    assert association["Properties"]["AllocationId"] == {"Fn::GetAtt": [address_name, "AllocationId"]}

    [san] = [line for line in user_data(lab).splitlines() if "subjectAltName=" in line]
    names = san.split("subjectAltName=")[1].split('"')[0].split(",")
    assert names == [
        "DNS:pipeline-dashboard",
        "DNS:localhost",
        "IP:127.0.0.1",
        f"IP:GETATT_{address_name}_PublicIp",
    ]
    # The URL the stack prints is the address the certificate names.
    assert f'{{"Fn::GetAtt": ["{address_name}", "PublicIp"]}}' in dashboard_url(lab)
