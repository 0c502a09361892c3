"""The AWS emulator of the rehearsal: moto in server mode, over TLS, on 127.0.0.1 and a free port.

`Emulator` starts ``python -m tests.rehearsal.emulator`` as a child process (so moto's backends and the
rehearsal's workarounds never leak into the process that runs the checks), waits until it answers, and
stops it on exit. The server is reached as ``https://localhost:<port>`` (not 127.0.0.1: moto takes the
bucket of a stack's TemplateURL from the URL's host unless the URL names localhost) with a throwaway
certificate for ``localhost`` and 127.0.0.1 that the clients trust through ``AWS_CA_BUNDLE`` (botocore, the AWS CLI and
the CDK CLI) and ``NODE_EXTRA_CA_CERTS`` (anything else in Node). TLS is what lets the stacks' TLS-only
bucket policies (``aws:SecureTransport``) stand as written.

`client_environment` is what every child of the rehearsal gets: fake credentials, the endpoint, a
region, path-style S3 (``*.localhost`` does not resolve here), the certificate for every TLS client
(``SSL_CERT_FILE`` too) and no real AWS configuration file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
START_TIMEOUT_SECONDS = 60


def write_throwaway_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for localhost and 127.0.0.1, valid for two days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    certificate_path = folder / "emulator-cert.pem"
    key_path = folder / "emulator-key.pem"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Emulator:
    """A running moto server; a context manager that stops it (and only it) on exit."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.certificate, self.key = write_throwaway_certificate(workdir / "tls")
        self.port = _free_port()
        self.endpoint = f"https://localhost:{self.port}"
        self.log_path = workdir / "emulator.log"
        self.leftovers_file = workdir / "emulator-leftovers.txt"
        # The late log delivery the emulator attempts at each DeleteStack (moto_workarounds).
        self.late_delivery_file = workdir / "emulator-late-delivery.txt"
        # Written by the rehearsal once an instance's sandbox exists (SSM Run Command runs there).
        self.sandboxes_file = workdir / "instance-sandboxes.json"
        self._process: subprocess.Popen[bytes] | None = None
        self._aws_config = workdir / "aws-config"
        self._aws_config.write_text(
            f"[default]\nregion = {REGION}\ns3 =\n    addressing_style = path\n", encoding="utf-8"
        )

    def client_environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of every process that talks to the emulator (CDK CLI, AWS CLI, boto3)."""
        environment = {
            name: value for name, value in (base or os.environ).items() if not name.startswith("AWS_")
        }
        environment.update(
            {
                "AWS_ACCESS_KEY_ID": "rehearsal",
                "AWS_SECRET_ACCESS_KEY": "rehearsal",
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_CA_BUNDLE": str(self.certificate),
                "NODE_EXTRA_CA_CERTS": str(self.certificate),
                # pyarrow's S3 (pyiceberg's reads and writes of the lake) ignores AWS_CA_BUNDLE: its
                # bundled OpenSSL trusts the file SSL_CERT_FILE names.
                "SSL_CERT_FILE": str(self.certificate),
                "AWS_CONFIG_FILE": str(self._aws_config),
                "AWS_SHARED_CREDENTIALS_FILE": str(self.workdir / "no-credentials-file"),
                "AWS_EC2_METADATA_DISABLED": "true",
                "CDK_DISABLE_VERSION_CHECK": "1",
            }
        )
        return environment

    def take_leftovers(self) -> list[str]:
        """What the emulator removed on moto's behalf since the last call (see moto_workarounds)."""
        if not self.leftovers_file.exists():
            return []
        lines = self.leftovers_file.read_text(encoding="utf-8").splitlines()
        self.leftovers_file.unlink()
        return lines

    def take_late_deliveries(self) -> list[str]:
        """The late log deliveries attempted since the last call: "refused ..." or "written ..."."""
        if not self.late_delivery_file.exists():
            return []
        lines = self.late_delivery_file.read_text(encoding="utf-8").splitlines()
        self.late_delivery_file.unlink()
        return lines

    def __enter__(self) -> Emulator:
        log = self.log_path.open("wb")
        command = [
            sys.executable,
            "-m",
            "tests.rehearsal.emulator",
            "--port",
            str(self.port),
            "--cert",
            str(self.certificate),
            "--key",
            str(self.key),
        ]
        from tests.rehearsal.moto_workarounds import (
            LATE_DELIVERY_FILE_VARIABLE,
            LEFTOVERS_FILE_VARIABLE,
            SANDBOXES_FILE_VARIABLE,
        )

        environment = {
            **os.environ,
            "MOTO_PORT": str(self.port),
            LEFTOVERS_FILE_VARIABLE: str(self.leftovers_file),
            SANDBOXES_FILE_VARIABLE: str(self.sandboxes_file),
            LATE_DELIVERY_FILE_VARIABLE: str(self.late_delivery_file),
        }
        repo = Path(__file__).resolve().parents[2]
        self._process = subprocess.Popen(command, cwd=repo, env=environment, stdout=log, stderr=log)
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        import ssl
        import urllib.request

        context = ssl.create_default_context(cafile=str(self.certificate))
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"the emulator exited at start; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", context=context, timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(
            f"the emulator did not answer within {START_TIMEOUT_SECONDS}s; see {self.log_path}"
        )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def serve(port: int, certificate: str, key: str) -> None:
    """Run moto's server application with the rehearsal's workarounds installed (the child process)."""
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    from tests.rehearsal import moto_workarounds

    moto_workarounds.install()
    application = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, application, threaded=True, ssl_context=(certificate, key))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="moto server with the rehearsal's workarounds, over TLS")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    options = parser.parse_args()
    serve(options.port, options.cert, options.key)
