"""Kubernetes YAML in, the same YAML with our additions out: ``downward-webhook render``'s text.

A GitOps repository is read by people, so ``render`` changes only what it must. The stream is
composed with the C YAML parser (libyaml, where PyYAML has it); each document's object goes
to ``transform``, which returns the JSON Patch ``add`` operations it applied (paths from the
document's root). A document without operations is copied byte for byte, comments, ``---``
and flow style included. In a changed document the additions are spliced into the original
text at the parser's node positions (a key appended to a block mapping, an item inserted
into a block sequence, at the indentation found there, values in block style), so its
comments and key order stay.

Correct first: each spliced document is parsed again and compared with the patched object.
What the splicer does not handle (a flow collection ``{}``/``[]`` where something is added,
a replaced key, an odd layout), or a comparison that fails, takes that one document through a
round trip in ruamel.yaml, which keeps comments; if even that differs, the patched object is
written by PyYAML (comments of that document lost, content right).
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import msgspec
import yaml

from webhook.types import Patch

__all__ = ["BadYAML", "Transform", "render", "render_pieces"]

#: Given one document's object, patch it in place and return the operations applied.
Transform = Callable[[Any], Patch]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_DASH = re.compile(r" *- +")
_WIDTH = 4096  # long strings stay on one line instead of being folded


class BadYAML(ValueError):
    """Not YAML: the problem and where (1-based line and column, when known)."""

    def __init__(self, problem: str, line: int | None, column: int | None) -> None:
        super().__init__(problem)
        self.problem, self.line, self.column = problem, line, column

    @classmethod
    def of(cls, exc: yaml.YAMLError) -> BadYAML:
        if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
            mark = exc.problem_mark
            return cls(str(exc.problem or exc.context), mark.line + 1, mark.column + 1)
        return cls(str(exc).splitlines()[0], None, None)


class _Unsupported(Exception):
    """The splicer does not handle this text; the document takes the round trip."""


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
            operations = transform(doc)
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
        except _Unsupported:
            continue
        if _same(candidate, doc):
            return start, end, candidate
    return start, end, _dump(doc, _newline(original))


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


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _dump(value: Any, newline: str, indent: int = 0) -> str:
    """Block-style YAML for ``value``, every line indented by ``indent`` spaces.

    Every pod of a repository gets much the same additions, so the text is cached by the
    value's JSON (JSON-able values only; others, like dates, are dumped each time).
    """
    try:
        key = msgspec.json.encode(value)
    except (TypeError, msgspec.EncodeError):
        return _dump_now(value, newline, indent)
    return _cached_dump(key, newline, indent)


@lru_cache(maxsize=1024)
def _cached_dump(key: bytes, newline: str, indent: int) -> str:
    return _dump_now(msgspec.json.decode(key), newline, indent)


def _dump_now(value: Any, newline: str, indent: int) -> str:
    dumped = yaml.dump(
        value,
        Dumper=_BlockStyleDumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=_WIDTH,
    )
    pad = " " * indent
    lines = dumped.rstrip("\n").split("\n")
    return newline.join(pad + line if line else line for line in lines)


class _BlockStyleDumper(_Dumper):  # type: ignore[misc, valid-type]
    """Writes multi-line strings (annotations, scripts) as ``|`` blocks, as people write them."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None  # PyYAML falls back to quotes when it must
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)


# --- Splicing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _New:
    """A value we add, not (yet) in the text."""

    value: Any
    owned: bool = False  # a copy of the operation's value, ours to change


@dataclass(slots=True)
class _Edits:
    """Additions per node of the original text: new keys of mappings, items of sequences."""

    keys: dict[int, tuple[yaml.MappingNode, dict[str, _New]]] = field(default_factory=dict)
    items: dict[int, tuple[yaml.SequenceNode, list[yaml.Node | _New]]] = field(default_factory=dict)


def _tokens(path: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]


def _splice(text: str, root: yaml.Node, operations: Patch, start: int, end: int) -> str:
    edits = _Edits()
    for op in operations:
        if op.get("op") != "add" or not op["path"]:
            raise _Unsupported
        _add(edits, root, _tokens(op["path"]), op["value"])
    # Additions at one place go inner node first: a sequence's new last item before a key
    # added to the mapping that holds the sequence.
    insertions = sorted(_insertions(text, edits), key=lambda i: (i[0], -i[1]))
    out: list[str] = []
    done = start
    for at, _, addition in insertions:
        if not start <= at <= end:
            raise _Unsupported
        out += (text[done:at], addition)
        done = at
    out.append(text[done:end])
    return "".join(out)


def _add(edits: _Edits, node: yaml.Node, tokens: list[str], value: Any) -> None:
    for i, token in enumerate(tokens[:-1]):
        child = _child(edits, node, token)
        if isinstance(child, _New):  # inside something we add: change our own value
            _add_to_value(child.value, tokens[i + 1 :], value)
            return
        node = child
    last = tokens[-1]
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        _, keys = edits.keys.setdefault(id(node), (node, {}))
        if _original_value(node, last) is not None:
            raise _Unsupported  # replacing a value of the text
        keys[last] = _New(value)
    elif isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        items = _items(edits, node)
        index = len(items) if last == "-" else int(last)
        items.insert(index, _New(value))
    else:
        raise _Unsupported


def _items(edits: _Edits, node: yaml.SequenceNode) -> list[yaml.Node | _New]:
    return edits.items.setdefault(id(node), (node, list(node.value)))[1]


def _child(edits: _Edits, node: yaml.Node, token: str) -> yaml.Node | _New:
    if isinstance(node, yaml.MappingNode):
        found = _original_value(node, token)
        if found is not None:
            return found
        pending = edits.keys.get(id(node), (node, {}))[1]
        if token in pending:
            return _owned(pending[token])
    elif isinstance(node, yaml.SequenceNode) and token.isdigit():
        items = _items(edits, node)
        if int(token) < len(items):
            item = items[int(token)]
            return _owned(item) if isinstance(item, _New) else item
    raise _Unsupported


def _owned(new: _New) -> _New:
    """``new``, with a value of its own before something is added inside it."""
    if not new.owned:
        new.value, new.owned = copy.deepcopy(new.value), True
    return new


def _original_value(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for key_node, value_node in reversed(node.value):  # the last of duplicate keys wins
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found: yaml.Node = value_node
            return found
    return None


def _add_to_value(target: Any, tokens: list[str], value: Any) -> None:
    for token in tokens[:-1]:
        target = target[int(token)] if isinstance(target, list) else target[token]
    last = tokens[-1]
    if isinstance(target, list):
        target.insert(len(target) if last == "-" else int(last), copy.deepcopy(value))
    else:
        target[last] = copy.deepcopy(value)


def _insertions(text: str, edits: _Edits) -> Iterator[tuple[int, int, str]]:
    """``(where, start of the node added to, text)`` for every addition."""
    newline = _newline(text[: text.find("\n") + 1])
    for node, keys in edits.keys.values():
        if keys:
            indent = node.value[0][0].start_mark.column
            addition = newline + _dump({k: v.value for k, v in keys.items()}, newline, indent)
            yield _line_end(text, node), node.start_mark.index, addition
    for sequence, items in edits.items.values():
        yield from _item_insertions(text, sequence, items, newline)


def _item_insertions(
    text: str, sequence: yaml.SequenceNode, items: list[yaml.Node | _New], newline: str
) -> Iterator[tuple[int, int, str]]:
    dash = _dash_column(text, sequence.value[0])
    group: list[Any] = []
    for item in items:
        if isinstance(item, _New):
            group.append(item.value)
        elif group:
            line_start = text.rfind("\n", 0, item.start_mark.index) + 1
            _dash_column(text, item)
            yield line_start, sequence.start_mark.index, _dump(group, newline, dash) + newline
            group = []
    if group:
        addition = newline + _dump(group, newline, dash)
        yield _line_end(text, sequence), sequence.start_mark.index, addition


def _dash_column(text: str, item: yaml.Node) -> int:
    """The column of the ``-`` before ``item``, which must start its line after spaces."""
    line_start = text.rfind("\n", 0, item.start_mark.index) + 1
    prefix = text[line_start : item.start_mark.index]
    if not _DASH.fullmatch(prefix):
        raise _Unsupported
    return prefix.index("-")


def _line_end(text: str, node: yaml.Node) -> int:
    """Where a line after ``node``'s last line goes: the end of that line (after a comment)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style:
        if not node.value:
            raise _Unsupported
        node = node.value[-1][1] if isinstance(node, yaml.MappingNode) else node.value[-1]
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        at = node.end_mark.index  # a block scalar ends after its last line break
        at -= text[at - 1] == "\n"
        return at - (text[at - 1] == "\r")
    at = text.find("\n", node.end_mark.index)
    at = len(text) if at < 0 else at
    return at - 1 if at > 0 and text[at - 1] == "\r" else at


# --- Round trip -------------------------------------------------------------------------------


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
            _add_to_value(data, _tokens(op["path"]), op["value"])
        buffer = io.StringIO()
        loader.dump(data, buffer)
    except (YAMLError, KeyError, IndexError, TypeError, ValueError):
        raise _Unsupported from None
    result = buffer.getvalue()
    return result.replace("\n", "\r\n") if "\r\n" in text[start:end] else result
