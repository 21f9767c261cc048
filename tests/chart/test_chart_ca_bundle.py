"""certs.provided.caBundle: the PEM (with text around it) or its base64 (wrapped or not).

Whatever form it takes, every webhook entry's caBundle is the base64 of a text holding the PEM,
which is what the API server reads with Go's PEM decoder (it skips text around the blocks).
"""

from __future__ import annotations

import base64
from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.chart.rendering import CI_DIR, Renderer, helm_run, one, template_args

PEM = yaml.safe_load((CI_DIR / "provided-values.yaml").read_text())["certs"]["provided"]["caBundle"]
ENCODED = base64.b64encode(PEM.encode()).decode()


def values_file(tmp_path: Path, ca_bundle: str) -> Path:
    path = tmp_path / "values.yaml"
    provided = {"secretName": "corp-tls", "caBundle": ca_bundle}
    path.write_text(yaml.safe_dump({"certs": {"mode": "provided", "provided": provided}}))
    return path


def ca_bundles(chart: Renderer, values: Path) -> list[str]:
    config = one(chart.docs(values, "1.35"), "MutatingWebhookConfiguration")
    kubernetes_validate.validate(config, "1.35", strict=True)
    bundles = [entry["clientConfig"]["caBundle"] for entry in config["webhooks"]]
    assert len(bundles) == 2
    return bundles


WRAPPED = base64.encodebytes(PEM.encode()).decode()  # 76 columns, as coreutils `base64`
INDENTED = "\r\n  ".join(ENCODED[i : i + 64] for i in range(0, len(ENCODED), 64))


@pytest.mark.parametrize(
    "ca_bundle",
    [PEM, ENCODED, WRAPPED, INDENTED],
    ids=["pem", "base64 on one line", "base64 wrapped by coreutils", "base64 with CRLF, indented"],
)
def test_every_form_gives_the_base64_of_the_pem(
    chart: Renderer, tmp_path: Path, ca_bundle: str
) -> None:
    for bundle in ca_bundles(chart, values_file(tmp_path, ca_bundle)):
        assert base64.b64decode(bundle, validate=True).decode().strip() == PEM.strip()
        if ca_bundle != PEM:
            assert bundle == ENCODED  # the admin's base64, without its white space


@pytest.mark.parametrize(
    "pem",
    [f"# corp root CA\n{PEM}", f"subject=CN = corp root CA\n\n{PEM}", f"{PEM}\n# end of bundle\n"],
    ids=["comment line before", "openssl subject line before", "comment after"],
)
def test_a_pem_with_text_around_it_is_encoded_whole(
    chart: Renderer, tmp_path: Path, pem: str
) -> None:
    for bundle in ca_bundles(chart, values_file(tmp_path, pem)):
        decoded = base64.b64decode(bundle, validate=True).decode()
        assert decoded == pem.strip()
        assert PEM.strip() in decoded


def test_the_base64_of_a_commented_pem_is_kept(chart: Renderer, tmp_path: Path) -> None:
    encoded = base64.encodebytes(f"# corp root CA\n{PEM}".encode()).decode()
    for bundle in ca_bundles(chart, values_file(tmp_path, encoded)):
        assert bundle == "".join(encoded.split())


@pytest.mark.parametrize(
    "ca_bundle",
    [
        "not a certificate",
        base64.b64encode(b"hello, not a certificate").decode(),
        ENCODED[:-3],  # cut: no longer valid base64
        " \n ",
    ],
    ids=["plain text", "base64 of something else", "truncated base64", "white space"],
)
def test_a_bundle_that_is_neither_fails_with_one_line(
    helm: str, tmp_path: Path, ca_bundle: str
) -> None:
    result = helm_run(helm, *template_args(values_file(tmp_path, ca_bundle), "1.35"))
    assert result.returncode != 0
    assert (
        "certs.provided.caBundle is neither a PEM certificate (-----BEGIN CERTIFICATE-----) "
        "nor the base64 of one"
    ) in result.stderr.splitlines()[0]
