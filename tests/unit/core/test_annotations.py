"""Reading the downward.io annotations: defaults, keywords, and a finding per bad value."""

from __future__ import annotations

import pytest

from webhook.core.annotations import read_options
from webhook.core.divisors import CPU_DIVISORS, MEMORY_DIVISORS
from webhook.core.envvars import DEFAULT_FIELDS
from webhook.core.reasons import Reason


def test_absent_annotation_means_no_injection_without_findings() -> None:
    assert read_options({"app": "x"}) == (None, [])


def test_namespace_default_applies_only_without_a_pod_annotation() -> None:
    options, _ = read_options({}, "env")
    assert options is not None and options.modes == {"env"}
    assert read_options({"downward.io/inject": "none"}, "env") == (None, [])


def test_defaults_match_the_spec() -> None:
    options, findings = read_options({"downward.io/inject": "all"})
    assert findings == [] and options is not None
    assert options.modes == {"env", "volume", "ambassador"}
    assert options.env_fields == DEFAULT_FIELDS
    assert (options.cpu_divisor.quantity, options.memory_divisor.quantity) == ("1m", "1")
    assert (options.volume_path, options.volume_mode) == ("/etc/podinfo", 0o644)
    assert (options.ambassador_port, options.ambassador_read_only) == (8001, False)
    assert options.containers is None and options.env_prefix == ""


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("inject", "env,sidecar", Reason.UNKNOWN_MODE),
        ("inject", ",", Reason.NO_MODE),
        ("env-fields", "nodeIP", Reason.UNKNOWN_FIELD),
        ("env-fields", " , ", Reason.NO_FIELDS),
        ("env-fields", "label:-bad", Reason.BAD_FIELD_KEY),
        ("env-fields", "annotation:a/b/c", Reason.BAD_FIELD_KEY),
        ("env-prefix", "9LIVES", Reason.BAD_ENV_PREFIX),
        ("cpu-divisor", "1k", Reason.BAD_CPU_DIVISOR),
        ("memory-divisor", "1Ti", Reason.BAD_MEMORY_DIVISOR),
        ("volume-path", "/", Reason.BAD_VOLUME_PATH),
        ("volume-path", "/a/../b", Reason.BAD_VOLUME_PATH),
        ("volume-path", "/a\nb", Reason.BAD_VOLUME_PATH),
        ("volume-mode", "1777", Reason.BAD_VOLUME_MODE),
        ("volume-mode", "rw", Reason.BAD_VOLUME_MODE),
        ("ambassador-port", "1023", Reason.BAD_PORT),
        ("ambassador-port", "65536", Reason.BAD_PORT),
        ("ambassador-image", "UPPER/case", Reason.BAD_IMAGE),
        ("env-fields", "label:App.Kubernetes.io/name", Reason.BAD_FIELD_KEY),
        ("ambassador-read-only", "1", Reason.BAD_BOOLEAN),
    ],
)
def test_each_bad_value_gives_its_reason(key: str, value: str, reason: Reason) -> None:
    annotations = {"downward.io/inject": "env", f"downward.io/{key}": value}
    _, findings = read_options(annotations)
    assert [f.reason for f in findings] == [reason]


@pytest.mark.parametrize(
    ("value", "mode"), [("0644", 0o644), ("644", 0o644), ("0o400", 0o400), ("0", 0), ("777", 0o777)]
)
def test_volume_mode_is_octal(value: str, mode: int) -> None:
    options, findings = read_options(
        {"downward.io/inject": "volume", "downward.io/volume-mode": value}
    )
    assert findings == [] and options is not None and options.volume_mode == mode


def test_every_divisor_in_the_spec_is_accepted() -> None:
    for table, key in ((CPU_DIVISORS, "cpu-divisor"), (MEMORY_DIVISORS, "memory-divisor")):
        for quantity in table:
            _, findings = read_options(
                {"downward.io/inject": "env", f"downward.io/{key}": f" {quantity} "}
            )
            assert findings == []


def test_keywords_are_trimmed_and_case_insensitive_but_label_keys_keep_case() -> None:
    options, findings = read_options(
        {
            "downward.io/inject": " ENV ",
            "downward.io/env-fields": " Name , CPUREQUEST, label:app.kubernetes.io/Name ",
            "downward.io/ambassador-read-only": "TRUE",
        }
    )
    assert findings == [] and options is not None
    assert [f.key for f in options.env_fields] == [
        "name",
        "cpuRequest",
        "label:app.kubernetes.io/Name",
    ]
    assert options.ambassador_read_only is True
