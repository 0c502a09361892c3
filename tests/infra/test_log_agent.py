"""The instance's CloudWatch pieces run for real: the health check against a local HTTP server."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stacks import log_agent
from stacks.instance_bootstrap import tls_certificate_command
from tests.infra.conftest import Synthesized, resolve_user_data

NAMESPACE = "MarketWeatherPipeline/test"


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # Streamlit answers its health endpoint with 200 "ok"
        status = 200 if self.path == "/_stcore/health" else 404
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def tls_health_server(tmp_path: Path) -> Iterator[int]:
    """The health endpoint over HTTPS with a certificate made by the instance's own openssl command."""
    key, certificate = tmp_path / "dashboard.key", tmp_path / "dashboard.crt"
    subprocess.run(
        tls_certificate_command(str(key), str(certificate)), shell=True, check=True, capture_output=True
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _run_check(tmp_path: Path, port: int, *, tls: bool = False) -> dict:
    script = tmp_path / "health-check"
    script.write_text(log_agent.health_script(NAMESPACE, port, tls=tls))
    sh = shutil.which("sh")
    assert sh and shutil.which("curl"), "sh and curl are required (the instance has both)"
    completed = subprocess.run([sh, str(script)], capture_output=True, text=True, check=True, timeout=30)
    [line] = completed.stdout.splitlines()
    return json.loads(line)


def test_a_dashboard_that_answers_is_healthy_in_an_emf_line(tmp_path: Path, health_server: int) -> None:
    document = _run_check(tmp_path, health_server)
    assert document["DashboardHealthy"] == 1 and document["event"] == "dashboard_health"
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive == {
        "Namespace": NAMESPACE,
        "Dimensions": [[]],
        "Metrics": [{"Name": "DashboardHealthy", "Unit": "Count"}],
    }
    assert document["_aws"]["Timestamp"] > 1_700_000_000_000  # milliseconds


def test_a_dashboard_on_its_own_tls_certificate_is_healthy(tmp_path: Path, tls_health_server: int) -> None:
    assert _run_check(tmp_path, tls_health_server, tls=True)["DashboardHealthy"] == 1
    # The plain-HTTP check the other access modes use finds no dashboard on a TLS port.
    assert _run_check(tmp_path, tls_health_server)["DashboardHealthy"] == 0


def test_a_dashboard_that_does_not_answer_is_unhealthy(tmp_path: Path) -> None:
    assert _run_check(tmp_path, _free_port())["DashboardHealthy"] == 0


def test_every_unit_is_exported_to_its_own_file_and_group() -> None:
    config = json.loads(log_agent.agent_config(NAMESPACE))
    collected = config["logs"]["logs_collected"]["files"]["collect_list"]
    assert [item["log_group_name"] for item in collected] == [
        f"/{NAMESPACE}/{unit}" for unit in log_agent.LOGGED_UNITS
    ]
    assert config["metrics"]["metrics_collected"]["disk"]["resources"] == ["/"]
    unit = log_agent.export_unit()
    assert "--cursor-file=/var/lib/pipeline-log-export/%i.cursor" in unit
    assert ">> /var/log/pipeline/%i.log" in unit


def test_the_units_log_files_are_rotated_in_place(dev: Synthesized) -> None:
    config = log_agent.logrotate_config()
    assert config.startswith(f"{log_agent.LOG_DIRECTORY}/*.log {{\n")
    rules = {line.strip() for line in config.splitlines()[1:-1]}
    # copytruncate: the export units keep their file open; moving it away would lose their lines.
    assert {
        "daily",
        f"rotate {log_agent.ROTATED_DAYS}",
        f"maxsize {log_agent.ROTATE_SIZE}",
        "copytruncate",
    } <= rules
    assert config.rstrip().endswith("}")
    _, instance = dev.only("AWS::EC2::Instance")
    script = resolve_user_data(instance["Properties"]["UserData"])
    assert f"cat > {log_agent.LOGROTATE_CONFIG} <<'PIPELINE_EOF'\n{config}\nPIPELINE_EOF" in script
    assert "dnf install -y -q amazon-cloudwatch-agent logrotate" in script
