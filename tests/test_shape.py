"""The code's shape, measured with an ast walk: small parts, and layers that do not leak.

No module under selchat/ over 450 lines, no class over 300, no function over 60 (decorators not
counted, as a function's size is from its ``def`` to its last line).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "selchat"
MODULE_MAX, CLASS_MAX, FUNCTION_MAX = 450, 300, 60

# what the pure layers must not import
IO_MODULES = {"socket", "selectors", "ssl", "sqlite3", "select", "threading", "subprocess", "asyncio", "time"}
CHAT_MODULES = ("selchat.hub", "selchat.events", "selchat.outbound", "selchat.wire", "selchat.server",
                "selchat.records", "selchat.news")


def oversized() -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        source = path.read_text()
        lines = source.count("\n")
        if lines > MODULE_MAX:
            found[(rel, "")] = lines
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                size = (node.end_lineno or node.lineno) - node.lineno + 1  # from the def: decorators apart
                limit = CLASS_MAX if isinstance(node, ast.ClassDef) else FUNCTION_MAX
                if size > limit:
                    found[(rel, node.name)] = size
    return found


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_part_is_over_its_size() -> None:
    found = oversized()
    assert not found, f"over the limits (module {MODULE_MAX}, class {CLASS_MAX}, function {FUNCTION_MAX}): {found}"


def test_the_hub_touches_no_io_and_the_reactor_no_chat() -> None:
    for path in sorted((PACKAGE / "hub").glob("*.py")):
        leaked = {name for name in imports(path) if name.split(".")[0] in IO_MODULES}
        assert not leaked, f"{path.name} imports I/O: {leaked}"
    for path in [*sorted((PACKAGE / "reactor").glob("*.py")), PACKAGE / "backplane" / "resp.py"]:
        chat = {name for name in imports(path) if name.startswith(CHAT_MODULES)}
        assert not chat, f"{path.name} (the reactor or the RESP client) imports chat modules: {chat}"


def test_the_hub_names_no_wires_syntax() -> None:
    """Each wire phrases its own errors: the hub's words carry no JSON (nor any wire's) syntax."""
    for path in sorted((PACKAGE / "hub").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert '{"' not in node.value and '":' not in node.value, f"{path.name}: {node.value!r}"
