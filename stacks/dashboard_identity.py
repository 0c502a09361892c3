"""Who may sign in to the dashboard with ``dashboard_login=cognito``: a Cognito user pool behind st.login.

Streamlit's own OIDC login (``st.login``) sends the visitor to Cognito's hosted sign-in page and back
to ``https://<CloudFront domain>/oauth2callback`` with an authorization code, which the dashboard
exchanges, with the app client's secret, for an ID token. Users are added by the operator only (no
self sign-up; the ``AddDashboardUserCommand`` output), and sign in with their e-mail address. The
client secret never leaves Cognito through the stack: the instance role may read this one client's
description (``cognito-idp:DescribeUserPoolClient`` on this pool), and `pipeline dashboard` reads the
secret from it at start.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Fn, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.nag import acknowledge

# The dashboard unit's settings of a Cognito login (pipeline/settings.py reads them).
OIDC_SETTINGS: tuple[str, ...] = (
    "DASHBOARD_OIDC_POOL_ID",
    "DASHBOARD_OIDC_CLIENT_ID",
    "DASHBOARD_OIDC_REGION",
    "DASHBOARD_OIDC_REDIRECT_URI",
)
# Streamlit's callback path (st.login's redirect_uri must end with it).
CALLBACK_PATH = "/oauth2callback"
# The start of the hosted UI's domain prefix (Cognito refuses prefixes with "aws", "amazon" or "cognito").
_DOMAIN_PREFIX = "market-weather"


def domain_prefix(environment: str) -> str:
    """The hosted UI's domain prefix: unique per account, region and deployment (a token until deploy)."""
    return Fn.join("-", [f"{_DOMAIN_PREFIX}-{environment}", Aws.ACCOUNT_ID])


class DashboardIdentity(Construct):
    """The user pool (`user_pool`), its hosted UI domain and the dashboard's app client (`client`)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: PipelineConfig, dashboard_url: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"{config.stack_name}-dashboard",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            deletion_protection=config.removal_policy == "retain",
            # Users are data: kept unless the deployment's data goes with `cdk destroy` (a user pool
            # has no snapshot, so `snapshot` keeps it too).
            removal_policy=RemovalPolicy.DESTROY if config.destroys_data else RemovalPolicy.RETAIN,
        )
        self.domain = self.user_pool.add_domain(
            "HostedUi",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix(config.environment)),
        )
        self.redirect_uri: str = Fn.join("", [dashboard_url, CALLBACK_PATH])
        self.client = self.user_pool.add_client(
            "DashboardClient",
            user_pool_client_name="dashboard",
            generate_secret=True,
            # Only the hosted UI's code flow: no password ever reaches the dashboard.
            auth_flows=cognito.AuthFlow(user_srp=False, user_password=False, admin_user_password=False),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=[self.redirect_uri],
                logout_urls=[Fn.join("", [dashboard_url, "/"])],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
        )
        self._acknowledge_findings()

    def grant_read_client(self, role: iam.IRole) -> None:
        """Let `role` read the app client's description (and so its secret), on this pool only."""
        self.user_pool.grant(role, "cognito-idp:DescribeUserPoolClient")

    @property
    def dashboard_environment(self) -> dict[str, str]:
        """What `pipeline dashboard` needs to offer st.login (the client secret it reads itself)."""
        return {
            "DASHBOARD_OIDC_POOL_ID": self.user_pool.user_pool_id,
            "DASHBOARD_OIDC_CLIENT_ID": self.client.user_pool_client_id,
            "DASHBOARD_OIDC_REGION": Aws.REGION,
            "DASHBOARD_OIDC_REDIRECT_URI": self.redirect_uri,
        }

    def _acknowledge_findings(self) -> None:
        findings = {
            "AwsSolutions-COG2": "No MFA: the operator adds each user; MFA can be switched on in the pool "
            "when the users are ready for it, without a change to the dashboard.",
            "AwsSolutions-COG8": "No Plus feature plan (threat protection, formerly advanced security mode): "
            "it is billed per active user; the pool has no self sign-up and a strict password policy.",
        }
        for rule, reason in findings.items():
            acknowledge(self.user_pool, rule, reason)


def add_user_command(user_pool_id: str) -> str:
    """The AWS CLI command that invites a user (Cognito e-mails a temporary password); edit the address."""
    return Fn.join(
        "",
        [
            "aws cognito-idp admin-create-user --region ",
            Aws.REGION,
            " --user-pool-id ",
            user_pool_id,
            " --username someone@example.com"
            " --user-attributes Name=email,Value=someone@example.com Name=email_verified,Value=true"
            " --desired-delivery-mediums EMAIL",
        ],
    )
