"""Kubernetes YAML in, the same YAML with our additions out: ``downward-webhook render``'s text.

A GitOps repository is read by people, so ``render`` changes only what it must. The stream is
composed with the C YAML parser (libyaml, where PyYAML has it); each document's object goes
to ``transform``, which returns the JSON Patch ``add`` operations it applied (paths from the
document's root). A document without operations is copied byte for byte, comments, ``---``
and flow style included. In a changed document the additions are spliced into the original
text at the parser's node positions (a key appended to a block mapping, an item inserted
into a block sequence, at the indentation found there, values in block style), so its
comments and key order stay.

YAML aliases are expanded before the transform, as Kubernetes' reader expands them: a list
that ``*mounts`` shares between two containers is two lists, each patched once. The splicer
writes an addition into an anchor's text once when every alias of it gets the same one.

Correct first: each spliced document is parsed again and compared with the patched object.
What the splicer does not handle (a flow collection ``{}``/``[]`` where something is added,
a replaced key, an odd layout), or a comparison that fails, takes that one document through a
round trip in ruamel.yaml, which keeps comments; if even that differs, the patched object is
written by PyYAML (comments of that document lost, content right).
"""

from __future__ import annotations

import copy
import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from webhook.splice import Unsupported, add_to_value, block_yaml, newline_of, tokens
from webhook.splice import splice as _splice
from webhook.types import Patch

__all__ = ["BadObject", "BadYAML", "Transform", "render", "render_pieces"]

#: Given one document's object, patch it in place and return the operations applied.
Transform = Callable[[Any], Patch]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_WIDTH = 4096  # long strings stay on one line instead of being folded


class BadYAML(ValueError):
    """Not YAML, or YAML we refuse (``what``): the problem and where (1-based line and column,
    when known)."""

    def __init__(
        self, problem: str, line: int | None, column: int | None, what: str = "not YAML"
    ) -> None:
        super().__init__(problem)
        self.problem, self.line, self.column, self.what = problem, line, column, what

    @classmethod
    def of(cls, exc: yaml.YAMLError) -> BadYAML:
        if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
            mark = exc.problem_mark
            return cls(str(exc.problem or exc.context), mark.line + 1, mark.column + 1)
        return cls(str(exc).splitlines()[0], None, None)


class BadObject(ValueError):
    """A document the transform refuses (raised by it): the one-line message, and the 1-based
    line and column of the part of the text it names (``at `spec.containers[0].name``` in the
    message: ``path``), or of the document when it names none or the text does not hold it."""

    def __init__(self, message: str, path: str | None) -> None:
        super().__init__(message)
        self.message, self.path = message, path
        self.line: int | None = None
        self.column: int | None = None


def render(text: str, transform: Transform) -> str:
    """``text`` with ``transform`` applied to every document. Raises ``BadYAML``."""
    return "".join(render_pieces(text, transform))


def render_pieces(text: str, transform: Transform) -> list[str]:
    """``render``'s text in pieces (to write them without joining a copy of it all)."""
    out: list[str] = []
    done = 0
    for start, end, replacement in _changes(text, transform):
        out += (text[done:start], replacement)
        done = end
    out.append(text[done:])
    return out


def _changes(text: str, transform: Transform) -> Iterator[tuple[int, int, str]]:
    loader = _Loader(text)
    try:
        while _check(loader):
            node = _next(loader)
            doc = _construct(loader, node)
            _unshare(doc, node)
            try:
                operations = transform(doc)
            except BadObject as exc:
                exc.line, exc.column = _locate(node, exc.path or "")
                raise
            if operations:
                yield _document(text, node, doc, operations)
    finally:
        loader.dispose()


def _check(loader: yaml.SafeLoader) -> bool:
    try:
        return bool(loader.check_node())
    except yaml.YAMLError as exc:
        raise BadYAML.of(exc) from None


def _next(loader: yaml.SafeLoader) -> yaml.Node:
    try:
        node: yaml.Node | None = loader.get_node()
    except yaml.YAMLError as exc:
        raise BadYAML.of(exc) from None
    assert node is not None  # check_node said there is one
    return node


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise BadYAML.of(exc) from None


_INDEX = re.compile(r"\[(\d+)\]")


def _locate(node: yaml.Node, path: str) -> tuple[int, int]:
    """Where in the text ``path`` (``spec.template.spec.containers[0].ports[0].containerPort``,
    ``metadata.annotations["a.b"]``, keys with dots in them such as ``kubernetes.io/os``
    too) starts below ``node``: as far as the composed nodes hold it."""
    rest = path
    while rest:
        if isinstance(node, yaml.SequenceNode):
            index = _INDEX.match(rest)
            if index is None or int(index[1]) >= len(node.value):
                break
            node, rest = node.value[int(index[1])], rest[index.end() :]
        elif isinstance(node, yaml.MappingNode):
            key, rest_after = _key(rest)
            found = [
                (k.value, v)
                for k, v in reversed(node.value)  # the last of duplicate keys wins
                if isinstance(k, yaml.ScalarNode)
                and (k.value == key if key is not None else _names(rest, k.value))
            ]
            if not found:
                break
            name, node = max(found, key=lambda kv: len(kv[0]))  # the longest: "a.b" over "a"
            rest = rest_after if key is not None else rest.removeprefix(".")[len(name) :]
        else:
            break
    return node.start_mark.line + 1, node.start_mark.column + 1


def _key(rest: str) -> tuple[str | None, str]:
    """A quoted key first in ``rest`` (``["a.b"]``) and what follows it, else ``None``."""
    if not rest.startswith('["'):
        return None, rest
    try:
        key, end = json.JSONDecoder().raw_decode(rest, 1)
    except ValueError:
        return None, rest
    if not isinstance(key, str) or rest[end : end + 1] != "]":
        return None, rest
    return key, rest[end + 1 :]


def _names(rest: str, key: object) -> bool:
    """Whether ``rest`` (``.a.b[0]`` or ``a.b[0]``) goes on with the mapping key ``key``."""
    if not isinstance(key, str) or not key:
        return False
    after = rest.removeprefix(".")
    return after.startswith(key) and after[len(key) : len(key) + 1] in ("", ".", "[")


#: Values that YAML aliases may add to one document, copied out (a "billion laughs" document
#: of a few lines would expand to a billion; Kubernetes' own YAML reader refuses those too).
MAX_ALIAS_VALUES = 1_000_000


def _unshare(doc: Any, node: yaml.Node) -> None:
    """Give every list and mapping that the document holds twice (through a YAML alias,
    ``*mounts``, or a merge key) a copy of its own, in place: patching one container's
    ``volumeMounts`` must not patch another's that an alias made the same list. Raises
    ``BadYAML`` for aliases that expand to more than ``MAX_ALIAS_VALUES`` values."""
    if not isinstance(doc, dict | list):
        return
    seen = {id(doc)}
    budget = MAX_ALIAS_VALUES
    stack: list[dict[Any, Any] | list[Any]] = [doc]
    while stack:
        parent = stack.pop()
        for key, child in list(parent.items() if isinstance(parent, dict) else enumerate(parent)):
            if not isinstance(child, dict | list):
                continue
            if id(child) in seen:
                budget -= len(child) + 1
                if budget < 0:
                    mark = node.start_mark
                    problem = f"aliases expand to more than {MAX_ALIAS_VALUES:,} values"
                    raise BadYAML(problem, mark.line + 1, mark.column + 1, "YAML refused")
                child = copy.copy(child)
                parent[key] = child
            seen.add(id(child))
            stack.append(child)


def _document(text: str, node: yaml.Node, doc: Any, operations: Patch) -> tuple[int, int, str]:
    """The span of one changed document and its new text."""
    start, end = node.start_mark.index, node.end_mark.index
    line_start = text.rfind("\n", 0, start) + 1
    if not text[line_start:start].strip(" "):
        start = line_start  # the document's own indentation belongs to it
    original = text[start:end]
    for attempt in (_splice, _round_trip):
        try:
            candidate = attempt(text, node, operations, start, end)
        except Unsupported:
            continue
        if _same(candidate, doc):
            return start, end, candidate
    return start, end, block_yaml(doc, newline_of(original))


def _same(text: str, doc: Any) -> bool:
    """Whether ``text`` parses to ``doc``: compared node by node, else by constructing it."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return False
    return (node is not None and _matches(node, doc)) or _loads(text) == doc


_STR = "tag:yaml.org,2002:str"
_SCALARS = yaml.constructor.SafeConstructor()


def _matches(node: yaml.Node, value: Any) -> bool:
    """A quick, strict comparison for the usual case (string keys, no merge keys)."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR:
            return type(value) is str and node.value == value
        construct = _SCALARS.yaml_constructors.get(node.tag)
        return construct is not None and bool(construct(_SCALARS, node) == value)
    if isinstance(node, yaml.MappingNode):
        if type(value) is not dict or len(node.value) != len(value):
            return False
        return all(
            isinstance(k, yaml.ScalarNode)
            and k.tag == _STR
            and k.value in value
            and _matches(v, value[k.value])
            for k, v in node.value
        )
    if isinstance(node, yaml.SequenceNode):
        if type(value) is not list or len(node.value) != len(value):
            return False
        return all(_matches(n, v) for n, v in zip(node.value, value, strict=True))
    return False


def _loads(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        return _Different()


class _Different:
    """Equal to nothing: the result of parsing text that is not YAML any more."""

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]


def _round_trip(text: str, root: yaml.Node, operations: Patch, start: int, end: int) -> str:
    """The document through ruamel.yaml, which keeps its comments, with ``operations`` applied."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    loader = YAML(typ="rt")
    loader.preserve_quotes = True
    loader.width = _WIDTH
    try:
        data = loader.load(text[start:end])
        for op in operations:
            add_to_value(data, tokens(op["path"]), op["value"])
        buffer = io.StringIO()
        loader.dump(data, buffer)
    except (YAMLError, KeyError, IndexError, TypeError, ValueError):
        raise Unsupported from None
    result = buffer.getvalue()
    return result.replace("\n", "\r\n") if "\r\n" in text[start:end] else result
