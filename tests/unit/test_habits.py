"""The code stays readable by the next engineer: no production module over 500 lines, no function over 80."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = [*(REPO / "layers" / "core" / "python" / "bcjourney").rglob("*.py"),
              *(REPO / "tools" / "bcjourney_tools").rglob("*.py"), *(REPO / "functions").rglob("*.py")]


def test_no_module_over_500_lines_and_no_function_over_80():
    too_long = []
    for path in PRODUCTION:
        text = path.read_text()
        if len(text.splitlines()) > 500:
            too_long.append(f"{path.relative_to(REPO)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                too_long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}: "
                                f"{node.end_lineno - node.lineno + 1} lines")
    assert too_long == []
