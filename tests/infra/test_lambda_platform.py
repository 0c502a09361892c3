"""The ingestion bundle on the Lambda's platform: aarch64 Linux and the runtime's CPython (under qemu-user).

The bundle is built exactly as `cdk synth` builds it; an aarch64 CPython of the runtime's version
imports it from the bundle folder alone and fetches a symbol from the local API stand-in, so the test
sees which transport the Lambda picks and that its compiled wheels load and work there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

from stacks.lambda_bundling import REPO_ROOT, LocalPythonBundler
from tests.support.fake_apis import FakeApis
from tests.support.lambda_platform import guest_command

BUNDLE_ZIPPED_LIMIT = 30 * 1024 * 1024
ELF_AARCH64 = 183  # e_machine of an ELF file built for arm64
# Run by the guest interpreter with only the bundle on its path (-I: no site-packages, no PYTHON*).
GUEST_SCRIPT = """
import json, platform, sys
sys.path.insert(0, sys.argv[1])
import curl_cffi
from lambda_src import handler
from lambda_src.ingestion.runner import default_transport
from lambda_src.ingestion.httpclient import BROWSER_USER_AGENT
yahoo, fred = default_transport("yahoo"), default_transport("fred")
response = yahoo.get(sys.argv[2], {"interval": "1d"}, {"User-Agent": BROWSER_USER_AGENT}, (5.0, 20.0))
print(json.dumps({
    "machine": platform.machine(),
    "python": platform.python_version(),
    "curl_cffi": curl_cffi.__file__,
    "handler": handler.__file__,
    "yahoo_transport": yahoo.name,
    "other_transport": fred.name,
    "status": response.status,
    "body_starts": response.body[:9].decode(),
}))
"""


def _elf_machine(library: bytes) -> int:
    assert library[:4] == b"\x7fELF"
    return int.from_bytes(library[18:20], "little")


def _build_bundle(output: Path) -> Path:
    LocalPythonBundler(REPO_ROOT).try_bundle(str(output))
    return output


def test_bundle_imports_and_picks_the_impersonating_transport_on_lambdas_platform(tmp_path: Path) -> None:
    bundle = _build_bundle(tmp_path / "bundle")
    archive = Path(shutil.make_archive(str(tmp_path / "bundle"), "zip", bundle))
    assert archive.stat().st_size < BUNDLE_ZIPPED_LIMIT
    with zipfile.ZipFile(archive) as zipped:
        libraries = [name for name in zipped.namelist() if name.startswith("curl_cffi/") and ".so" in name]
        assert libraries and all(_elf_machine(zipped.read(name)) == ELF_AARCH64 for name in libraries)

    with FakeApis() as apis:
        url = f"{apis.environment()['YAHOO_CHART_URL']}/AAPL"
        completed = subprocess.run(
            [*guest_command(), "-I", "-c", GUEST_SCRIPT, str(bundle), url],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        seen = apis.state.requests
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["machine"] == "aarch64"
    assert report["python"].startswith(f"{guest_python_version()}.")
    # Everything imported from the bundle, nothing from this machine's environment.
    assert report["curl_cffi"].startswith(str(bundle)) and report["handler"].startswith(str(bundle))
    assert (report["yahoo_transport"], report["other_transport"]) == ("curl_cffi", "requests")
    assert (report["status"], report["body_starts"]) == (200, '{"chart":')
    # The impersonated browser sent a Chrome User-Agent of its own, not a library's.
    assert [request.path for request in seen] == ["/yahoo/chart/AAPL"]
    assert "Chrome/" in seen[0].user_agent and "python" not in seen[0].user_agent.lower()


def guest_python_version() -> str:
    from stacks.lambda_bundling import PYTHON_VERSION

    return PYTHON_VERSION
