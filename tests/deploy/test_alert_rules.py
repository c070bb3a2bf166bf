"""The alert rules' unit tests (deploy/prometheus/alerts.test.yml): run by promtool where it is
installed, else evaluated here over the file's recorded series (tests/support/promql.py)."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.promql import Store, duration_s, firing

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy/prometheus"
TESTS = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())
RULES = {
    rule["alert"]: rule
    for group in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    for rule in group["rules"]
}
CASES = [
    pytest.param(test, case, id=f"{case['alertname']}@{case['eval_time']}")
    for test in TESTS["tests"]
    for case in test["alert_rule_test"]
]


def _normalised(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    as_text = [{k: {n: str(v) for n, v in d.items()} for k, d in alert.items()} for alert in alerts]
    return sorted(as_text, key=lambda a: sorted(a["exp_labels"].items()))


@pytest.mark.parametrize(("test", "case"), CASES)
def test_each_alert_fires_as_its_unit_test_expects(test: dict[str, Any], case: dict[str, Any]) -> None:
    store = Store.from_test(test)
    interval = duration_s(TESTS.get("evaluation_interval", "1m"))

    got = firing(RULES[case["alertname"]], store, duration_s(case["eval_time"]), interval)

    assert _normalised(got) == _normalised(case["exp_alerts"])


def test_the_seeds_new_targets_are_unit_tested() -> None:
    tested = {case["alertname"] for test in TESTS["tests"] for case in test["alert_rule_test"]}
    assert {"DeskInferenceLatencyP99High", "GPUMemoryHigh", "DeskVaultUnreachable"} <= tested
    for name in tested:  # each one both quiet and firing
        expected = [c["exp_alerts"] for t in TESTS["tests"] for c in t["alert_rule_test"] if c["alertname"] == name]
        assert [] in expected
        assert any(expected)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed here")
def test_promtool_agrees() -> None:
    done = subprocess.run(
        [str(shutil.which("promtool")), "test", "rules", "alerts.test.yml"],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
