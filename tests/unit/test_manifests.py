"""``webhook.manifests`` and ``webhook.splice``: our additions in the user's YAML, the rest kept.

For every input, the output parsed equals the input parsed with the core's patch applied by
jsonpatch (``inject_document``); unchanged documents come out byte for byte; comments stay.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook import manifests
from webhook.core.admission import Settings
from webhook.core.workloads import inject_document

ROOT = Path(__file__).resolve().parents[2]
INPUTS = sorted(ROOT.glob("tests/testdata/golden/*/input.yaml")) + sorted(
    ROOT.glob("examples/*/pod.yaml")
)
_COMMENT = re.compile(r"(?:^|\s)(#.*)$")


def _transform(doc: Any) -> list[dict[str, Any]]:
    return [op for r in inject_document(doc, Settings()) for op in r.operations]


def _expected(text: str) -> list[Any]:
    # Through JSON: an alias (``*mounts``) becomes a copy of its own, as in Kubernetes' reader.
    docs = [json.loads(json.dumps(doc)) for doc in yaml.safe_load_all(text)]
    for doc in docs:
        inject_document(doc, Settings())
    return docs


def _comments(text: str) -> list[str]:
    return [m.group(1).strip() for line in text.splitlines() if (m := _COMMENT.search(line))]


def _render(text: str, monkeypatch: pytest.MonkeyPatch, *, splice_only: bool) -> str:
    if splice_only:  # the splicer alone must get it right: no round trip, no re-dump

        def refuse(*_: object) -> str:
            raise AssertionError("round trip used")

        monkeypatch.setattr(manifests, "_round_trip", refuse)
        monkeypatch.setattr(manifests, "_dump_document", refuse, raising=False)
    return manifests.render(text, _transform)


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: f"{p.parent.name}")
def test_golden_inputs_and_examples_are_spliced_right(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = path.read_text()
    out = _render(text, monkeypatch, splice_only=True)
    assert list(yaml.safe_load_all(out)) == _expected(text)
    assert _comments(out) == _comments(text)


TRICKY = {
    "comments-everywhere": """\
# head comment
apiVersion: apps/v1  # api
kind: Deployment
metadata:
  name: web # name
spec:
  template:
    # template comment
    metadata:
      annotations:
        downward.io/inject: all   # all of it
        # trailing annotation comment
    spec:
      containers:
        - name: app   # indented sequence
          image: nginx:1.27
          env:
            - name: A
              value: "1"  # keep me
        # between containers
        - name: side
          image: busybox
# tail comment
""",
    "flow-at-insertion-points": """\
apiVersion: v1
kind: Pod
metadata: {name: p, annotations: {downward.io/inject: "env,volume"}}  # flow
spec:
  containers: [{name: app, image: nginx}]  # flow list
""",
    "flow-elsewhere": """\
apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: {app: web, tier: front}
  annotations:
    downward.io/inject: env
spec:
  containers:
  - {name: app, image: nginx}
  - name: two
    image: nginx
    args: [--a, --b]
""",
    "crlf": "apiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: p\r\n  annotations:\r\n"
    "    downward.io/inject: all\r\nspec:\r\n  containers:\r\n  - name: app  # c\r\n"
    "    image: nginx\r\n",
    "multi-doc": """\
%YAML 1.1
---
apiVersion: v1
kind: ConfigMap
metadata: {name: untouched}   # flow, kept as is
data:
  key: "quoted"
...
# between documents
---
apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    downward.io/inject: volume
spec:
  containers:
  - name: app
    image: nginx
---
---
kind: Service
apiVersion: v1
metadata:
  name: s   # no trailing newline""",
    "list-kind": """\
apiVersion: v1
kind: List
items:
- apiVersion: batch/v1
  kind: CronJob
  metadata: {name: c}
  spec:
    schedule: "*/5 * * * *"
    jobTemplate:
      spec:
        template:
          metadata:
            annotations:
              downward.io/inject: env
          spec:
            restartPolicy: OnFailure
            containers:
            - name: job
              image: busybox
              command:
              - sh
              - -c
              - |
                echo hi
- apiVersion: v1
  kind: Pod
  metadata:
    name: p
    annotations:
      downward.io/inject: ambassador
  spec:
    containers:
    - name: app
      image: nginx
""",
    "anchors": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: &labels
    app: web
spec:
  selector:
    matchLabels: *labels
  template:
    metadata:
      labels: *labels
      annotations:
        downward.io/inject: env
    spec:
      containers:
      - &app
        name: app
        image: nginx
""",
    "aliased-lists": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    metadata:
      annotations:
        downward.io/inject: env,volume
    spec:
      containers:
      - name: api
        image: nginx
        env: &env  # shared
        - name: MODE
          value: fast
        volumeMounts: &mounts
        - name: cache
          mountPath: /cache  # the cache
      - name: worker
        image: nginx
        env: *env
        volumeMounts: *mounts
      volumes:
      - name: cache
        emptyDir: {}
""",
    "block-scalar-last": """\
apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    downward.io/inject: env,volume
    note: |+
      kept lines

spec:
  containers:
  - name: app
    image: nginx
    command:
    - sh
    - -c
    - |
      echo one
      echo two
""",
    "no-metadata-namespace-default": """\
apiVersion: v1
kind: Pod
spec:
  containers:
  - name: app
    image: nginx
""",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_tricky_documents_come_out_right_with_their_comments(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = TRICKY[name]
    out = _render(text, monkeypatch, splice_only=False)
    assert list(yaml.safe_load_all(out)) == _expected(text)
    assert _comments(out) == _comments(text)
    if "\r\n" in text:
        assert out.count("\n") == out.count("\r\n")


@pytest.mark.parametrize(
    "name",
    [
        "comments-everywhere",
        "crlf",
        "multi-doc",
        "list-kind",
        "block-scalar-last",
        "aliased-lists",
    ],
)
def test_block_style_documents_need_no_round_trip(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = TRICKY[name]
    out = _render(text, monkeypatch, splice_only=True)
    assert list(yaml.safe_load_all(out)) == _expected(text)


def test_an_alias_shows_the_additions_of_its_anchor_once() -> None:
    """Both containers share their lists through aliases and get the same additions: they go
    into the anchor's text once, and the aliases stay."""
    out = manifests.render(TRICKY["aliased-lists"], _transform)
    assert "env: *env\n" in out and "volumeMounts: *mounts\n" in out
    for container in yaml.safe_load(out)["spec"]["template"]["spec"]["containers"]:
        paths = [m["mountPath"] for m in container["volumeMounts"]]
        assert paths == ["/cache", "/etc/podinfo"]
        names = [v["name"] for v in container["env"]]
        assert len(names) == len(set(names)) and names[-1] == "MODE"


@pytest.mark.parametrize(
    "text",
    [
        # Only one container of two that share their lists is a target: the alias cannot
        # show the additions of one and not of the other, so it is written out.
        TRICKY["aliased-lists"].replace(
            "downward.io/inject: env,volume",
            "downward.io/inject: env,volume\n        downward.io/containers: api",
        ),
        # A merge key shares the lists of the mapping it merges.
        """\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    downward.io/inject: env,volume
spec:
  containers:
  - &base
    name: api
    image: nginx
    env:
    - {name: MODE, value: fast}
  - <<: *base
    name: worker
""",
    ],
    ids=["one-target-of-two", "merge-key"],
)
def test_a_shared_list_never_gets_the_additions_of_another_container(text: str) -> None:
    out = manifests.render(text, _transform)
    assert list(yaml.safe_load_all(out)) == _expected(text)


def test_aliases_that_expand_past_the_limit_are_refused_with_the_documents_line() -> None:
    laughs = ["lol0: &l0 [a, a, a, a, a, a, a, a, a, a]"]
    laughs += [f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 8)]
    text = "kind: ConfigMap\n---\n" + "\n".join(laughs) + "\n"
    with pytest.raises(
        manifests.BadYAML, match=r"^aliases expand to more than 1,000,000 values$"
    ) as exc:
        manifests.render(text, _transform)
    assert (exc.value.line, exc.value.column) == (3, 1)


def test_unchanged_documents_are_copied_byte_for_byte() -> None:
    text = TRICKY["multi-doc"]
    out = manifests.render(text, _transform)
    head, tail = text.split("---\napiVersion: v1\nkind: Pod", 1)
    assert out.startswith(head + "---\n")
    assert out.endswith(tail[tail.index("---\n---") :])
    unchanged = "".join(TRICKY[n] for n in ("flow-elsewhere",)).replace("downward.io/inject", "x")
    assert manifests.render(unchanged, _transform) == unchanged


def test_an_added_item_keeps_the_sequence_indentation() -> None:
    out = manifests.render(TRICKY["comments-everywhere"], _transform)
    assert "\n          env:\n            - name: POD_NAME\n" in out  # indented like the list
    assert '              value: "1"  # keep me\n' in out
    assert "\n        # between containers\n        - name: side\n" in out


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a: b\n c: d\n", (2, 3)),
        ("a: [1, 2\n", (2, 1)),
        ("a: 'x\n", (2, 1)),
        ("- a\nb: c\n", (2, 1)),
    ],
)
def test_bad_yaml_says_where(text: str, where: tuple[int, int]) -> None:
    with pytest.raises(manifests.BadYAML) as exc:
        manifests.render(text, _transform)
    assert (exc.value.line, exc.value.column) == where


def test_a_wrong_splice_is_caught_and_the_document_takes_the_round_trip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = TRICKY["comments-everywhere"]
    calls: list[str] = []
    monkeypatch.setattr(manifests, "_splice", lambda *a: calls.append("splice") or "kind: Wrong\n")
    out = manifests.render(text, _transform)
    assert calls == ["splice"]
    assert list(yaml.safe_load_all(out)) == _expected(text)
    assert "# all of it" in out  # ruamel.yaml kept the comments


def test_when_both_ways_fail_the_patched_object_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    text = TRICKY["comments-everywhere"]
    monkeypatch.setattr(manifests, "_splice", lambda *a: "kind: Wrong\n")
    monkeypatch.setattr(manifests, "_round_trip", lambda *a: "kind: Wrong too\n")
    out = manifests.render(text, _transform)
    assert list(yaml.safe_load_all(out)) == _expected(text)
    assert out.startswith("# head comment\n")  # outside the document's span: kept


_LOCATED = """\
apiVersion: v1
kind: List
items:
- kind: Pod
  metadata:
    annotations:
      a.b: x
      a: {b: y}
  spec:
    nodeSelector:
      kubernetes.io/os: 5
    containers:
    - name: app
      ports: [{containerPort: "80"}]
"""


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("items[0].spec.containers[0].ports[0].containerPort", (14, 31)),
        ("items[0].spec.nodeSelector.kubernetes.io/os", (11, 25)),  # a key with dots
        ('items[0].metadata.annotations["a.b"]', (7, 12)),  # a quoted key
        ("items[0].metadata.annotations.a.b", (7, 12)),  # the longest key: "a.b", not "a"
        ("items[0].spec.containers[3].name", (13, 5)),  # no such item: the list
        ("items[0].spec.volumes", (10, 5)),  # no such key: the mapping holding it
        ("", (1, 1)),
    ],
)
def test_a_refused_part_is_located_in_the_text(path: str, where: tuple[int, int]) -> None:
    def refuse(_: Any) -> list[dict[str, Any]]:
        raise manifests.BadObject("refused", path)

    with pytest.raises(manifests.BadObject) as exc:
        manifests.render("---\n# a comment\n" + _LOCATED, refuse)
    assert (exc.value.line, exc.value.column) == (where[0] + 2, where[1])
