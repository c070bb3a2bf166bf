"""The CI pipelines users run (GitHub Actions, GitLab CI) and the TLS front doors, checked offline:
both pipelines validate against the schemas check-jsonschema vendors, run the stages in order with the
Trivy gate and the manual production step, and the ingress and the compose proxy require TLS 1.3."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github/workflows/desk.yml"
GITLAB = ROOT / ".gitlab-ci.yml"


@pytest.mark.parametrize(("path", "schema"), [(GITHUB, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")])
def test_the_pipelines_validate_against_their_schemas(path: Path, schema: str) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _github() -> dict[str, Any]:
    return yaml.safe_load(GITHUB.read_text())


def _gitlab() -> dict[str, Any]:
    return yaml.safe_load(GITLAB.read_text())


def _scripts(job: dict[str, Any]) -> str:
    steps = job.get("steps") or []
    return "\n".join([str(s.get("run", "")) for s in steps] + [str(line) for line in job.get("script", [])])


def test_github_runs_the_stages_in_order_and_gates_production() -> None:
    jobs = _github()["jobs"]
    assert list(jobs) == ["test", "build", "scan", "deploy-test", "smoke", "promote", "notify"]
    assert "bash .ci/run" in _scripts(jobs["test"])
    assert jobs["build"]["needs"] == "test"
    assert "--severity HIGH,CRITICAL --exit-code 1" in _scripts(jobs["scan"])
    assert "scan" in jobs["deploy-test"]["needs"]
    assert "scripts/ci-deploy.sh deploy/k8s-test desk-test" in _scripts(jobs["deploy-test"])
    assert "scripts/smoke.py" in _scripts(jobs["smoke"])
    assert "smoke" in jobs["promote"]["needs"]
    assert jobs["promote"]["environment"] == "production"
    assert "scripts/ci-deploy.sh deploy/k8s desk" in _scripts(jobs["promote"])
    assert jobs["notify"]["if"] == "failure()"
    assert set(jobs["notify"]["needs"]) == set(list(jobs)[:-1])
    assert "secrets.WECOM_WEBHOOK_URL" in str(jobs["notify"])


def test_gitlab_runs_the_stages_in_order_and_gates_production() -> None:
    config = _gitlab()
    assert config["stages"] == ["test", "build", "scan", "deploy-test", "smoke", "promote", "notify"]
    jobs = {name: job for name, job in config.items() if isinstance(job, dict) and "stage" in job}
    assert [jobs[s]["stage"] for s in config["stages"]] == config["stages"]
    assert "bash .ci/run" in _scripts(jobs["test"])
    assert "--severity HIGH,CRITICAL --exit-code 1" in _scripts(jobs["scan"])
    assert "scripts/ci-deploy.sh deploy/k8s-test desk-test" in _scripts(jobs["deploy-test"])
    assert "scripts/smoke.py" in _scripts(jobs["smoke"])
    assert jobs["promote"]["rules"][0]["when"] == "manual"
    assert jobs["promote"]["environment"]["name"] == "production"
    assert jobs["notify"]["when"] == "on_failure"
    assert "WECOM_WEBHOOK_URL" in _scripts(jobs["notify"])


def test_the_deploy_script_parses() -> None:
    assert subprocess.run(["bash", "-n", str(ROOT / "scripts/ci-deploy.sh")], check=False).returncode == 0


def test_the_image_is_multi_stage_non_root_and_pinned_by_digest() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base)
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", dockerfile, re.MULTILINE)
    assert [name for _, name in stages] == ["build", "bridge", "runtime"]
    assert {image for image, _ in stages} == {"${PYTHON_IMAGE}"}
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert re.search(r"^USER desk:desk$", runtime, re.MULTILINE)


def test_the_test_overlay_answers_with_the_embedded_model_and_validates() -> None:
    overlay = yaml.safe_load((ROOT / "deploy/k8s-test/kustomization.yaml").read_text())
    assert overlay["namespace"] == "desk-test"
    assert "../k8s" in overlay["resources"]
    patches = "\n".join(p["patch"] for p in overlay["patches"])
    for expected in ("SIMULATOR_ENABLED", 'LLM_EMBEDDED_ENABLED, value: "true"', "http://embedded-llm:8090"):
        assert expected in patches
    for doc in yaml.safe_load_all((ROOT / "deploy/k8s-test/embedded-llm.yaml").read_text()):
        kubernetes_validate.validate(doc, "1.37.0", strict=True)


def test_the_ingress_requires_tls_13_and_redirects_plain_http() -> None:
    (controller,) = yaml.safe_load_all((ROOT / "deploy/k8s/ingress-nginx/controller-config.yaml").read_text())
    kubernetes_validate.validate(controller, "1.37.0", strict=True)
    assert controller["data"]["ssl-protocols"] == "TLSv1.3"
    assert controller["data"]["hsts"] == "true"
    (ingress,) = [d for d in yaml.safe_load_all((ROOT / "deploy/k8s/web.yaml").read_text()) if d["kind"] == "Ingress"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
    assert ingress["spec"]["tls"] == [{"hosts": ["desk.example.com"], "secretName": "desk-tls"}]


def test_the_compose_proxy_overlay_requires_tls_13() -> None:
    caddyfile = (ROOT / "deploy/proxy/Caddyfile").read_text()
    assert re.search(r"tls \{\$DESK_TLS_EMAIL\} \{\s+protocols tls1\.3\s+\}", caddyfile)
    assert "reverse_proxy web:8000" in caddyfile
    overlay = yaml.safe_load((ROOT / "deploy/proxy/docker-compose.tls.yml").read_text())
    proxy = overlay["services"]["proxy"]
    assert "./deploy/proxy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert "443:443" in proxy["ports"]
