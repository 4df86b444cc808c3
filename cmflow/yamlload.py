"""YAML parsing that keeps where every key was written (for path:line:col messages)."""

from __future__ import annotations

from typing import Any

import yaml

from cmflow.model import KeyPath, Mark

try:  # libyaml is several times faster; PyYAML wheels ship it
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class YamlSyntaxError(ValueError):
    """Raised by `parse` with the 1-based position of the problem."""

    def __init__(self, message: str, mark: Mark) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


def parse(
    text: str, line_offset: int = 0, *, aliases: bool = True
) -> tuple[Any, dict[KeyPath, Mark], yaml.Node | None]:
    """Parse one YAML document. Returns (value, marks of every key and list item, root node).

    `line_offset` is added to every line (front-matter starts below the `---` line). A key
    written twice in one mapping is an error (PyYAML would silently keep the last one).
    With `aliases=False`, anchors/aliases are refused: nested aliases expand exponentially
    (a few hundred bytes can take hours), and posts have no use for them."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_structure(node, line_offset, aliases)
        value = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        mark = Mark(m.line + 1 + line_offset, m.column + 1) if m else Mark(1 + line_offset, 1)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise YamlSyntaxError(f"{problem}{context}", mark) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(str(exc).splitlines()[0], Mark(1 + line_offset, 1)) from None
    finally:
        loader.dispose()
    marks: dict[KeyPath, Mark] = {}
    if node is not None:
        _walk(node, (), marks, line_offset)
    return value, marks, node


def _walk(node: yaml.Node, path: KeyPath, marks: dict[KeyPath, Mark], off: int) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            sub = (*path, key)
            marks[sub] = Mark(key_node.start_mark.line + 1 + off, key_node.start_mark.column + 1)
            if not isinstance(value_node, yaml.ScalarNode):
                _walk(value_node, sub, marks, off)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = (*path, i)
            marks[sub] = Mark(item.start_mark.line + 1 + off, item.start_mark.column + 1)
            if not isinstance(item, yaml.ScalarNode):
                _walk(item, sub, marks, off)


def _check_structure(root: yaml.Node, off: int, aliases: bool) -> None:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            continue
        if id(node) in seen:
            if not aliases:
                m = node.start_mark
                raise YamlSyntaxError(
                    "anchors and aliases (&name / *name) are not allowed here: write the values out",
                    Mark(m.line + 1 + off, m.column + 1),
                )
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict[str, yaml.Node] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in keys and key_node.tag != "tag:yaml.org,2002:merge":
                        first = keys[key_node.value].start_mark.line + 1 + off
                        m = key_node.start_mark
                        raise YamlSyntaxError(
                            f"key {key_node.value!r} is written twice (first on line {first}): "
                            "keep one",
                            Mark(m.line + 1 + off, m.column + 1),
                        )
                    keys[key_node.value] = key_node
                stack.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
