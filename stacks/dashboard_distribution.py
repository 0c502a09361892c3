"""CloudFront in front of the dashboard: HTTPS with CloudFront's certificate, WebSockets passed through.

Streamlit talks to the browser over a WebSocket (`/_stcore/stream`), which CloudFront carries when
the viewer's headers reach the origin; so nothing is cached (CachingDisabled) and every viewer header,
Host included, is forwarded (AllViewer): Streamlit compares the WebSocket's Origin with the Host it
sees. The origin is the instance's public DNS name over HTTP on the dashboard port; the instance's
security group admits only CloudFront's origin-facing managed prefix list. When `allowed_cidr` is not
0.0.0.0/0, a CloudFront Function answers 403 to every viewer outside it, and the distribution has
IPv6 off: `allowed_cidr` is IPv4, and a dual-stack browser would otherwise arrive over IPv6 and be
refused (CloudFront's API reference advises against IPv6 when access is restricted by IP address).
"""

from __future__ import annotations

import ipaddress

from aws_cdk import Aws, CfnCondition, CfnMapping, Fn
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.nag import acknowledge

# com.amazonaws.global.cloudfront.origin-facing, per region. CloudFormation cannot look a prefix list
# up by name and synth makes no AWS calls, so the ids are listed here; another region passes its id
# with -c cloudfront_prefix_list=pl-... (aws ec2 describe-managed-prefix-lists).
CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS: dict[str, str] = {
    "us-east-1": "pl-3b927c52",
    "us-east-2": "pl-b6a144df",
    "us-west-1": "pl-4ea04527",
    "us-west-2": "pl-82a045eb",
    "eu-west-1": "pl-4fa04526",
    "eu-west-2": "pl-93a247fa",
    "eu-central-1": "pl-a3a144ca",
    "ap-southeast-1": "pl-31a34658",
    "ap-southeast-2": "pl-b8a742d1",
    "ap-northeast-1": "pl-58a04531",
}


def cloudfront_prefix_list(scope: Construct, config: PipelineConfig) -> str:
    """The origin-facing prefix list id of the deployment's region (a token resolved by CloudFormation)."""
    if config.cloudfront_prefix_list:
        return config.cloudfront_prefix_list
    mapping = CfnMapping(
        scope,
        "CloudFrontOriginFacing",
        mapping={region: {"PrefixList": pl} for region, pl in CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS.items()},
    )
    return mapping.find_in_map(Aws.REGION, "PrefixList")


def public_dns_name(scope: Construct, public_ip: str) -> str:
    """EC2's public DNS name of an Elastic IP (CloudFront needs a name, not an address, as origin)."""
    dashed = Fn.join("-", Fn.split(".", public_ip))
    in_us_east_1 = CfnCondition(scope, "InUsEast1", expression=Fn.condition_equals(Aws.REGION, "us-east-1"))
    return Fn.condition_if(
        in_us_east_1.logical_id,
        Fn.join("", ["ec2-", dashed, ".compute-1.amazonaws.com"]),
        Fn.join("", ["ec2-", dashed, ".", Aws.REGION, ".compute.amazonaws.com"]),
    ).to_string()


def viewer_filter_code(cidr: str) -> str:
    """The viewer-request function: the request through for an IPv4 viewer inside `cidr`, else 403
    (an IPv6 viewer too; with the filter on, IPv6 is off and none should arrive)."""
    network = ipaddress.ip_network(cidr)
    base, mask = int(network.network_address), int(network.netmask)
    return f"""function handler(event) {{
    var parts = event.viewer.ip.split('.');
    if (parts.length === 4) {{
        var address = (((+parts[0]) << 24) | ((+parts[1]) << 16) | ((+parts[2]) << 8) | (+parts[3])) >>> 0;
        if (((address & {mask}) >>> 0) === {base}) {{
            return event.request;
        }}
    }}
    return {{ statusCode: 403, statusDescription: 'Forbidden' }};
}}
"""


class DashboardDistribution(Construct):
    """The CloudFront distribution (`distribution`) whose HTTPS address (`url`) is the dashboard's."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: PipelineConfig, origin_domain: str
    ) -> None:
        super().__init__(scope, construct_id)
        function_associations = []
        if not config.open_to_the_internet:
            viewer_filter = cloudfront.Function(
                self,
                "AllowedViewers",
                code=cloudfront.FunctionCode.from_inline(viewer_filter_code(config.allowed_cidr)),
                runtime=cloudfront.FunctionRuntime.JS_2_0,
                comment=f"Dashboard viewers from {config.allowed_cidr} only",
            )
            function_associations.append(
                cloudfront.FunctionAssociation(
                    function=viewer_filter, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                )
            )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"Dashboard of {config.stack_name}",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.HttpOrigin(
                    origin_domain,
                    protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
                    http_port=config.dashboard_port,
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER,
                function_associations=function_associations,
            ),
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_ipv6=config.open_to_the_internet,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        )
        self.url: str = Fn.join("", ["https://", self.distribution.distribution_domain_name])
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        findings = {
            "AwsSolutions-CFR1": "No geo restriction: the dashboard's visitors may be anywhere; the login guards it.",
            "AwsSolutions-CFR2": "No WAF: a web ACL costs more than this small dashboard; the login delays "
            "guessing and allowed_cidr narrows viewers through a CloudFront Function.",
            "AwsSolutions-CFR3": "No access logs: a legacy log bucket needs ACLs, which the log bucket disables.",
            "AwsSolutions-CFR4": "The default cloudfront.net certificate; a custom domain and ACM certificate "
            "are the operator's to add.",
            "AwsSolutions-CFR5": "HTTP to the origin: the instance has no certificate CloudFront would trust; "
            "its security group admits only CloudFront's origin-facing addresses.",
        }
        for rule, reason in findings.items():
            acknowledge(self.distribution, rule, reason)
