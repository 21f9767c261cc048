"""Splicing: our JSON Patch ``add`` operations as text inserted into the user's YAML.

Works on the nodes that PyYAML composes (with their start and end marks): a key appended to
a block mapping, items inserted into a block sequence, at the indentation found there, the
values written in block style. What it does not handle (a flow collection or a scalar where
something is added, a key of the text replaced, a ``-`` not alone at the start of its line)
raises ``Unsupported``; ``webhook.manifests`` then takes another way, and checks every result.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import msgspec
import yaml

from webhook.types import Patch

__all__ = ["Unsupported", "add_to_value", "block_yaml", "newline_of", "splice", "tokens"]

_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_DASH = re.compile(r" *- +")
_WIDTH = 4096  # long strings stay on one line instead of being folded


class Unsupported(Exception):
    """The splicer does not handle this text."""


def newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def block_yaml(value: Any, newline: str, indent: int = 0) -> str:
    """Block-style YAML for ``value``, every line indented by ``indent`` spaces.

    Every pod of a repository gets much the same additions, so the text is cached by the
    value's JSON (JSON-able values only; others, like dates, are dumped each time).
    """
    try:
        key = msgspec.json.encode(value)
    except (TypeError, msgspec.EncodeError):
        return _dump_now(value, newline, indent)
    return _cachedblock_yaml(key, newline, indent)


@lru_cache(maxsize=1024)
def _cachedblock_yaml(key: bytes, newline: str, indent: int) -> str:
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
    #: The path that first reached each node added to, and what was added there: the same node
    #: by another path is a YAML alias (``*mounts``), which shows those additions already.
    first: dict[int, tuple[list[str], list[tuple[str, Any]]]] = field(default_factory=dict)
    #: How many additions each other path has made to a node so far.
    again: dict[tuple[int, str], int] = field(default_factory=dict)


def tokens(path: str) -> list[str]:
    """A JSON Pointer's tokens, unescaped (``~1`` is ``/``, ``~0`` is ``~``)."""
    return [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]


def splice(text: str, root: yaml.Node, operations: Patch, start: int, end: int) -> str:
    """``text[start:end]`` (the document composed as ``root``) with ``operations`` spliced in."""
    edits = _Edits()
    for op in operations:
        if op.get("op") != "add" or not op["path"]:
            raise Unsupported
        _add(edits, root, tokens(op["path"]), op["value"])
    # Additions at one place go inner node first: a sequence's new last item before a key
    # added to the mapping that holds the sequence.
    insertions = sorted(_insertions(text, edits), key=lambda i: (i[0], -i[1]))
    out: list[str] = []
    done = start
    for at, _, addition in insertions:
        if not start <= at <= end:
            raise Unsupported
        out += (text[done:at], addition)
        done = at
    out.append(text[done:end])
    return "".join(out)


def _add(edits: _Edits, node: yaml.Node, path: list[str], value: Any) -> None:
    for i, token in enumerate(path[:-1]):
        child = _child(edits, node, token)
        if isinstance(child, _New):  # inside something we add: change our own value
            add_to_value(child.value, path[i + 1 :], value)
            return
        node = child
    last = path[-1]
    if _through_alias(edits, node, path, value):
        return
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        _, keys = edits.keys.setdefault(id(node), (node, {}))
        if _original_value(node, last) is not None:
            raise Unsupported  # replacing a value of the text
        keys[last] = _New(value)
    elif isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        items = _items(edits, node)
        index = len(items) if last == "-" else int(last)
        items.insert(index, _New(value))
    else:
        raise Unsupported


def _through_alias(edits: _Edits, node: yaml.Node, path: list[str], value: Any) -> bool:
    """Whether this addition reaches ``node`` through an alias of it, as the same addition
    made through the path that reached it first (the alias's text shows it then). A
    different one raises ``Unsupported``: the alias's text cannot show two contents."""
    prefix, made = edits.first.setdefault(id(node), (path[:-1], []))
    if prefix == path[:-1]:
        made.append((path[-1], value))
        return False
    key = (id(node), "/".join(path[:-1]))
    count = edits.again.get(key, 0)
    if count >= len(made) or made[count] != (path[-1], value):
        raise Unsupported
    edits.again[key] = count + 1
    return True


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
    raise Unsupported


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


def add_to_value(target: Any, path: list[str], value: Any) -> None:
    """JSON Patch ``add`` of ``value`` at ``path`` (unescaped tokens) in plain objects."""
    for token in path[:-1]:
        target = target[int(token)] if isinstance(target, list) else target[token]
    last = path[-1]
    if isinstance(target, list):
        target.insert(len(target) if last == "-" else int(last), copy.deepcopy(value))
    else:
        target[last] = copy.deepcopy(value)


def _insertions(text: str, edits: _Edits) -> Iterator[tuple[int, int, str]]:
    """``(where, start of the node added to, text)`` for every addition."""
    newline = newline_of(text[: text.find("\n") + 1])
    for node, keys in edits.keys.values():
        if keys:
            indent = node.value[0][0].start_mark.column
            addition = newline + block_yaml({k: v.value for k, v in keys.items()}, newline, indent)
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
            yield line_start, sequence.start_mark.index, block_yaml(group, newline, dash) + newline
            group = []
    if group:
        addition = newline + block_yaml(group, newline, dash)
        yield _line_end(text, sequence), sequence.start_mark.index, addition


def _dash_column(text: str, item: yaml.Node) -> int:
    """The column of the ``-`` before ``item``, which must start its line after spaces."""
    line_start = text.rfind("\n", 0, item.start_mark.index) + 1
    prefix = text[line_start : item.start_mark.index]
    if not _DASH.fullmatch(prefix):
        raise Unsupported
    return prefix.index("-")


def _line_end(text: str, node: yaml.Node) -> int:
    """Where a line after ``node``'s last line goes: the end of that line (after a comment)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style:
        if not node.value:
            raise Unsupported
        node = node.value[-1][1] if isinstance(node, yaml.MappingNode) else node.value[-1]
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        at = node.end_mark.index  # a block scalar ends after its last line break
        at -= text[at - 1] == "\n"
        return at - (text[at - 1] == "\r")
    at = text.find("\n", node.end_mark.index)
    at = len(text) if at < 0 else at
    return at - 1 if at > 0 and text[at - 1] == "\r" else at
