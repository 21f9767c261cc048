"""The MutatingWebhookConfiguration, the certificate modes and the server's flags."""

from __future__ import annotations

import base64
import contextlib
import io
import random

import pytest

from tests.chart.rendering import (
    CI_DIR,
    NAMESPACE,
    Doc,
    Renderer,
    kinds,
    one,
    server_args,
    server_container,
)

ANNOTATION_CEL = (
    "has(object.metadata.annotations) && 'downward.io/inject' in object.metadata.annotations"
)
NO_ANNOTATION_CEL = (
    "!has(object.metadata.annotations) || !('downward.io/inject' in object.metadata.annotations)"
)
FULLNAME = "dw-downward-webhook"
SPELLING = "spelling.downward.io"


def webhooks(docs: list[Doc]) -> dict[str, Doc]:
    config = one(docs, "MutatingWebhookConfiguration")
    return {entry["name"]: entry for entry in config["webhooks"]}


def excluded(entry: Doc) -> list[str]:
    (expression,) = [
        e
        for e in entry["namespaceSelector"]["matchExpressions"]
        if e["key"] == "kubernetes.io/metadata.name"
    ]
    assert expression["operator"] == "NotIn"
    return list(expression["values"])


# ---- the entries ---------------------------------------------------------------------------


def test_annotation_entry_has_every_setting_the_spec_names(chart: Renderer) -> None:
    docs = chart.docs(kube_version="1.35")
    entry = webhooks(docs)["inject.downward.io"]
    assert entry["rules"] == [
        {
            "operations": ["CREATE"],
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "resources": ["pods"],
            "scope": "Namespaced",
        }
    ]
    assert entry["sideEffects"] == "None"
    assert entry["admissionReviewVersions"] == ["v1", "v1beta1"]
    assert entry["reinvocationPolicy"] == "IfNeeded"
    assert 1 <= entry["timeoutSeconds"] <= 5
    assert entry["failurePolicy"] == "Fail"
    assert entry["matchConditions"] == [
        {"name": "has-inject-annotation", "expression": ANNOTATION_CEL}
    ]
    assert entry["clientConfig"]["service"] == {
        "name": FULLNAME,
        "namespace": NAMESPACE,
        "path": "/mutate",
        "port": 443,
    }
    assert "namespace-default.downward.io" not in webhooks(docs)


def test_webhook_service_reaches_the_server_port(chart: Renderer) -> None:
    docs = chart.docs()
    service = one(docs, "Service")
    entry = webhooks(docs)["inject.downward.io"]
    (port,) = service["spec"]["ports"]
    assert service["metadata"]["name"] == entry["clientConfig"]["service"]["name"]
    assert port["port"] == entry["clientConfig"]["service"]["port"]
    (container_port,) = server_container(docs)["ports"]
    assert port["targetPort"] == container_port["name"]
    assert container_port["containerPort"] == 8443
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


@pytest.mark.parametrize("kube_version", ["1.28", "1.29", "1.30", "1.35"])
def test_clusters_with_match_conditions_get_fail_scoped_to_opted_in_pods(
    chart: Renderer, kube_version: str
) -> None:
    docs = chart.docs(CI_DIR / "namespace-defaults-values.yaml", kube_version)
    entries = webhooks(docs)
    assert entries["inject.downward.io"]["failurePolicy"] == "Fail"
    assert entries["inject.downward.io"]["matchConditions"][0]["expression"] == ANNOTATION_CEL
    assert entries["namespace-default.downward.io"]["failurePolicy"] == "Fail"
    assert entries["namespace-default.downward.io"]["matchConditions"][0]["expression"] == (
        NO_ANNOTATION_CEL
    )


@pytest.mark.parametrize("kube_version", ["1.25", "1.26", "1.27"])
def test_clusters_without_match_conditions_get_ignore_and_no_cel(
    chart: Renderer, kube_version: str
) -> None:
    docs = chart.docs(CI_DIR / "old-cluster-values.yaml", kube_version)
    for entry in webhooks(docs).values():
        assert entry["failurePolicy"] == "Ignore"
        assert "matchConditions" not in entry


def test_match_conditions_value_overrides_the_kube_version(chart: Renderer) -> None:
    off = webhooks(chart.docs(kube_version="1.35", sets=("webhook.matchConditions=false",)))
    assert "matchConditions" not in off["inject.downward.io"]
    assert off["inject.downward.io"]["failurePolicy"] == "Ignore"
    on = webhooks(chart.docs(kube_version="1.28", sets=("webhook.matchConditions=true",)))
    assert on["inject.downward.io"]["failurePolicy"] == "Fail"
    assert on["inject.downward.io"]["matchConditions"]


def test_explicit_failure_policy_wins(chart: Renderer) -> None:
    entries = webhooks(chart.docs(CI_DIR / "overrides-values.yaml", "1.35"))
    assert entries["inject.downward.io"]["failurePolicy"] == "Ignore"
    assert entries["inject.downward.io"]["timeoutSeconds"] == 10


@pytest.mark.parametrize("namespace", [NAMESPACE, "webhooks"])
def test_system_and_release_namespaces_are_excluded(chart: Renderer, namespace: str) -> None:
    docs = chart.docs(CI_DIR / "namespace-defaults-values.yaml", "1.35", namespace=namespace)
    for entry in webhooks(docs).values():
        assert set(excluded(entry)) == {"kube-system", "kube-node-lease", namespace}


def test_extra_excluded_namespaces_are_added(chart: Renderer) -> None:
    entry = webhooks(chart.docs(CI_DIR / "overrides-values.yaml", "1.35"))["inject.downward.io"]
    assert set(excluded(entry)) == {"kube-system", "kube-node-lease", "kube-public", NAMESPACE}


def test_namespace_default_entry_selects_labelled_namespaces(chart: Renderer) -> None:
    docs = chart.docs(CI_DIR / "namespace-defaults-values.yaml", "1.35")
    entries = webhooks(docs)
    entry = entries["namespace-default.downward.io"]
    assert entry["clientConfig"]["service"]["path"] == "/mutate/namespace-default"
    assert entry["namespaceSelector"]["matchLabels"] == {"downward.io/inject": "enabled"}
    assert "matchLabels" not in entries["inject.downward.io"]["namespaceSelector"]
    for key in ("rules", "sideEffects", "admissionReviewVersions", "reinvocationPolicy"):
        assert entry[key] == entries["inject.downward.io"][key]
    assert "--namespace-default-inject=env,volume,ambassador" in server_args(docs)


# ---- the typo entry ------------------------------------------------------------------------


@pytest.mark.parametrize("kube_version", ["1.28", "1.35"])
def test_the_typo_entry_sends_lookalike_keys_to_mutate_with_ignore(
    chart: Renderer, kube_version: str
) -> None:
    entries = webhooks(chart.docs(kube_version=kube_version))
    assert list(entries) == ["inject.downward.io", SPELLING]
    main, spelling = entries["inject.downward.io"], entries[SPELLING]
    # The Fail scope is unchanged: exactly the pods that carry downward.io/inject.
    assert main["failurePolicy"] == "Fail"
    assert main["matchConditions"] == [
        {"name": "has-inject-annotation", "expression": ANNOTATION_CEL}
    ]
    assert spelling["failurePolicy"] == "Ignore"
    assert spelling["clientConfig"]["service"]["path"] == "/mutate"
    (condition,) = spelling["matchConditions"]
    assert condition["name"] == "downward-like-key-without-inject"
    assert condition["expression"].startswith(
        "has(object.metadata.annotations) && "
        "!('downward.io/inject' in object.metadata.annotations) && "
    )
    for key in ("rules", "sideEffects", "admissionReviewVersions", "timeoutSeconds"):
        assert spelling[key] == main[key]
    assert spelling["namespaceSelector"] == main["namespaceSelector"]


def test_the_typo_entry_stays_ignore_whatever_failure_policy_says(chart: Renderer) -> None:
    entries = webhooks(chart.docs(kube_version="1.35", sets=("webhook.failurePolicy=Fail",)))
    assert entries["inject.downward.io"]["failurePolicy"] == "Fail"
    assert entries[SPELLING]["failurePolicy"] == "Ignore"


@pytest.mark.parametrize(
    ("kube_version", "sets"),
    [
        ("1.27", ()),
        ("1.35", ("webhook.matchConditions=false",)),
        ("1.35", ("webhook.typoWarnings=false",)),
    ],
)
def test_no_typo_entry_without_match_conditions_or_when_turned_off(
    chart: Renderer, kube_version: str, sets: tuple[str, ...]
) -> None:
    """Without matchConditions the first entry already receives every pod (with Ignore)."""
    assert SPELLING not in webhooks(chart.docs(kube_version=kube_version, sets=sets))


def test_the_typo_entry_leaves_namespace_default_namespaces_to_their_entry(
    chart: Renderer,
) -> None:
    docs = chart.docs(CI_DIR / "namespace-defaults-values.yaml", "1.35")
    entry = webhooks(docs)[SPELLING]
    assert {
        "key": "downward.io/inject",
        "operator": "NotIn",
        "values": ["enabled"],
    } in entry["namespaceSelector"]["matchExpressions"]
    assert set(excluded(entry)) == {"kube-system", "kube-node-lease", NAMESPACE}


def _typo_set() -> list[str]:
    """The keys of the webhook's own tests, every known key, random two-edit typos, others."""
    from webhook.core.annotations import KNOWN_KEYS

    rng = random.Random(28)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-./_"
    keys = [
        *sorted(KNOWN_KEYS),
        "downward.io/inejct",
        "downwrd.io/inject",
        "Downward.io/inject",
        "downward.io/Inject",
        "DOWNWARD.IO/anything-at-all",
        "downward-io/containers",
        "linkerd.io/inject",
        "sidecar.istio.io/inject",
        "prometheus.io/scrape",
        "kubectl.kubernetes.io/restartedAt",
        "software.example.com/owner",
    ]
    for known in sorted(KNOWN_KEYS):
        for _ in range(25):
            key = known
            for _ in range(2):
                i = rng.randrange(len(key))
                key = rng.choice(
                    [
                        key[:i] + rng.choice(alphabet) + key[i + 1 :],
                        key[:i] + key[i + 1 :],
                        key[:i] + rng.choice(alphabet) + key[i:],
                        key[: max(i - 1, 0)]
                        + key[i : i + 1]
                        + key[max(i - 1, 0) : i]
                        + key[i + 1 :],
                    ]
                )
            keys.append(key)
    return keys


def test_the_typo_entry_cel_sends_every_key_the_webhook_warns_about(chart: Renderer) -> None:
    """The rendered CEL, run by cel-python, against the webhook's own verdict."""
    import celpy

    from webhook.core.annotations import KNOWN_KEYS
    from webhook.core.spelling import misspelled_keys, near

    (condition,) = webhooks(chart.docs(kube_version="1.35"))[SPELLING]["matchConditions"]
    env = celpy.Environment()
    program = env.program(env.compile(condition["expression"]))

    def sent(annotations: dict[str, str] | None) -> bool:
        meta = {} if annotations is None else {"annotations": annotations}
        return bool(program.evaluate({"object": celpy.json_to_cel({"metadata": meta})}))

    for key in _typo_set():
        if misspelled_keys([key]):
            assert sent({key: "env"}), key
        assert sent({key: "env"}) == (key not in KNOWN_KEYS and near(key)), key
        assert not sent({key: "env", "downward.io/inject": "env"}), key
    assert not sent(None) and not sent({})


def test_the_typo_entry_cel_is_made_of_the_spelling_module(chart: Renderer) -> None:
    from webhook.core.annotations import KNOWN_KEYS
    from webhook.core.spelling import NEAR_ANY, NEAR_TAIL, NEAR_WA

    (condition,) = webhooks(chart.docs(kube_version="1.35"))[SPELLING]["matchConditions"]
    known = ", ".join(f"'{k}'" for k in sorted(KNOWN_KEYS))
    assert condition["expression"].endswith(
        f"object.metadata.annotations.exists(k, !(k in [{known}]) && "
        f"(k.matches('{NEAR_ANY}') || (k.matches('{NEAR_TAIL}') && k.matches('{NEAR_WA}'))))"
    )


# ---- certificate modes ---------------------------------------------------------------------


def tls_volume(docs: list[Doc]) -> Doc:
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == "tls"]
    secret: Doc = volume["secret"]
    return secret


def cert_rbac_and_jobs(docs: list[Doc]) -> list[Doc]:
    return [
        d
        for d in docs
        if d["kind"] in {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "CronJob"}
        and d["metadata"]["labels"]["app.kubernetes.io/component"] == "certs"
    ]


def test_self_signed_mode_runs_certs_ensure_in_an_init_container(chart: Renderer) -> None:
    docs = chart.docs()
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    expected = [
        "certs",
        "ensure",
        f"--namespace={NAMESPACE}",
        f"--secret={FULLNAME}-tls",
        f"--service={FULLNAME}",
        f"--webhook-config={FULLNAME}",
    ]
    assert init["args"][: len(expected)] == expected
    cronjob = one(docs, "CronJob")
    (job_container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert job_container["args"] == init["args"]
    assert cronjob["spec"]["schedule"] == "17 3 * * 1"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert tls_volume(docs) == {
        "secretName": f"{FULLNAME}-tls",
        "defaultMode": 0o440,
        "optional": True,
    }
    config = one(docs, "MutatingWebhookConfiguration")
    assert "annotations" not in config["metadata"]
    for entry in config["webhooks"]:
        assert "caBundle" not in entry["clientConfig"]
    assert len(cert_rbac_and_jobs(docs)) == 5


def test_server_reads_the_mounted_certificate(chart: Renderer) -> None:
    docs = chart.docs()
    container = server_container(docs)
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "tls"]
    assert mount["readOnly"] is True
    args = server_args(docs)
    assert f"--tls-cert={mount['mountPath']}/tls.crt" in args
    assert f"--tls-key={mount['mountPath']}/tls.key" in args


def test_cert_manager_mode_injects_the_ca_of_the_serving_certificate(chart: Renderer) -> None:
    docs = chart.docs(CI_DIR / "cert-manager-values.yaml", "1.35")
    config = one(docs, "MutatingWebhookConfiguration")
    ref = config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    namespace, name = ref.split("/")
    certificate = one(docs, "Certificate", name)
    assert namespace == NAMESPACE == certificate["metadata"]["namespace"]
    assert certificate["spec"]["secretName"] == tls_volume(docs)["secretName"]
    assert "optional" not in tls_volume(docs)
    assert certificate["spec"]["dnsNames"] == [
        FULLNAME,
        f"{FULLNAME}.{NAMESPACE}",
        f"{FULLNAME}.{NAMESPACE}.svc",
        f"{FULLNAME}.{NAMESPACE}.svc.cluster.local",
    ]
    # The chart's own CA: self-signed Issuer -> CA Certificate -> CA Issuer -> serving cert.
    ca_issuer = one(docs, "Issuer", certificate["spec"]["issuerRef"]["name"])
    ca_certificate = one(docs, "Certificate", f"{FULLNAME}-ca")
    assert ca_certificate["spec"]["isCA"] is True
    assert ca_issuer["spec"]["ca"]["secretName"] == ca_certificate["spec"]["secretName"]
    bootstrap = one(docs, "Issuer", ca_certificate["spec"]["issuerRef"]["name"])
    assert bootstrap["spec"] == {"selfSigned": {}}
    assert "initContainers" not in one(docs, "Deployment")["spec"]["template"]["spec"]
    assert cert_rbac_and_jobs(docs) == []


def test_cert_manager_mode_can_use_an_existing_issuer(chart: Renderer) -> None:
    docs = chart.docs(CI_DIR / "cert-manager-issuer-values.yaml", "1.35")
    (certificate,) = kinds(docs, "Certificate")
    assert certificate["spec"]["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": "corp-ca",
    }
    assert kinds(docs, "Issuer") == []


def test_provided_mode_uses_the_admins_secret_and_ca_bundle(chart: Renderer) -> None:
    values = CI_DIR / "provided-values.yaml"
    docs = chart.docs(values, "1.35")
    assert tls_volume(docs)["secretName"] == "corp-downward-webhook-tls"
    assert "optional" not in tls_volume(docs)
    pem = values.read_text().split("caBundle: |\n", 1)[1]
    expected = "\n".join(line.strip() for line in pem.splitlines()) + "\n"
    for entry in one(docs, "MutatingWebhookConfiguration")["webhooks"]:
        decoded = base64.b64decode(entry["clientConfig"]["caBundle"]).decode()
        assert decoded.strip() == expected.strip()
        assert decoded.startswith("-----BEGIN CERTIFICATE-----")
    assert "initContainers" not in one(docs, "Deployment")["spec"]["template"]["spec"]
    assert cert_rbac_and_jobs(docs) == []
    assert kinds(docs, "Certificate") == []


def test_provided_ca_bundle_already_in_base64_is_kept(chart: Renderer) -> None:
    encoded = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    docs = chart.docs(
        sets=(
            "certs.mode=provided",
            "certs.provided.secretName=mine",
            f"certs.provided.caBundle={encoded.decode()}",
        )
    )
    for entry in one(docs, "MutatingWebhookConfiguration")["webhooks"]:
        assert entry["clientConfig"]["caBundle"] == encoded.decode()


# ---- server flags --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kube_version", "flag"),
    [
        ("1.27", "--no-native-sidecar"),
        ("1.28", "--no-native-sidecar"),
        ("1.29", "--native-sidecar"),
        ("1.35", "--native-sidecar"),
    ],
)
def test_native_sidecar_flag_follows_the_kube_version(
    chart: Renderer, kube_version: str, flag: str
) -> None:
    args = server_args(chart.docs(kube_version=kube_version))
    assert flag in args
    assert {"--native-sidecar", "--no-native-sidecar"} & set(args) == {flag}


@pytest.mark.parametrize(
    ("kube_version", "value", "flag"),
    [("1.29", "true", "--native-sidecar"), ("1.35", "false", "--no-native-sidecar")],
)
def test_native_sidecar_value_overrides_the_kube_version(
    chart: Renderer, kube_version: str, value: str, flag: str
) -> None:
    args = server_args(
        chart.docs(kube_version=kube_version, sets=(f"ambassador.nativeSidecar={value}",))
    )
    assert {"--native-sidecar", "--no-native-sidecar"} & set(args) == {flag}


def test_values_become_server_flags(chart: Renderer) -> None:
    sets = (
        "server.strict=true",
        "server.logLevel=debug",
        "server.maxBodyBytes=1048576",
        "server.bodyTimeoutSeconds=4",
        "server.certReloadIntervalSeconds=7",
        "server.gracefulTimeoutSeconds=12",
        "ambassador.image=registry.example/kubectl:v1",
        "ambassador.runAsUser=1234",
        "ambassador.resources.requests.cpu=20m",
        "ambassador.resources.limits.cpu=200m",
        "ambassador.resources.requests.memory=40Mi",
        "ambassador.resources.limits.memory=80Mi",
    )
    args = server_args(chart.docs(sets=sets))
    assert args[0] == "serve"
    for flag in (
        "--strict",
        "--log-level=debug",
        "--max-body-bytes=1048576",
        "--body-timeout=4",
        "--cert-reload-interval=7",
        "--graceful-timeout=12",
        "--ambassador-image=registry.example/kubectl:v1",
        "--ambassador-run-as-user=1234",
        "--ambassador-cpu-request=20m",
        "--ambassador-cpu-limit=200m",
        "--ambassador-memory-request=40Mi",
        "--ambassador-memory-limit=80Mi",
        "--namespace-default-inject=env,volume",
        "--port=8443",
    ):
        assert flag in args
    assert "--strict" not in server_args(chart.docs())


def test_chart_arguments_are_accepted_by_the_cli(chart: Renderer) -> None:
    """The flags the chart passes exist in `downward-webhook serve` and `certs ensure`, and
    give every required one (no environment variable stands in for them)."""
    from webhook import cli, flags

    docs = chart.docs(CI_DIR / "namespace-defaults-values.yaml", "1.27")
    init = one(docs, "Deployment")["spec"]["template"]["spec"]["initContainers"][0]
    parser = cli._parser()
    for args in (server_args(docs), init["args"]):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            try:
                flags.resolve(parser.parse_args(args), {})
            except SystemExit:
                pytest.fail(f"the CLI rejects {args}: {stderr.getvalue()}")
            except flags.UsageError as exc:
                pytest.fail(f"the CLI rejects {args}: {exc}")


def test_changing_the_webhook_configuration_rolls_the_self_signed_pods(chart: Renderer) -> None:
    """New pods re-run `certs ensure`, which writes caBundle into every (new) entry."""

    def checksum(docs: list[Doc]) -> str:
        annotations = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
        return str(annotations["checksum/webhook-config"])

    before = checksum(chart.docs())
    assert before == checksum(chart.docs(sets=("server.logLevel=debug",)))
    assert before != checksum(chart.docs(sets=("namespaceDefaults.enabled=true",)))
