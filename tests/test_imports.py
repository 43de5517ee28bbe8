"""The package's import graph: no circles, counting imports inside functions too; the CLI and
everything below it never import the demo; kube/ imports nothing of aws/."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "ecr_sweeper"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules `path` imports, anywhere in it (functions included)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from package import module` imports that module; `from module import name`
            # imports the module
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            targets = [sub for sub in submodules if sub in modules] or [base]
        else:
            continue
        found.update(target for target in targets if target in modules and target != name)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports."""
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(paths)) for name, path in paths.items()}


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := visit(imported)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_import_circle_in_the_package() -> None:
    graph = import_graph()
    assert "ecr_sweeper.demo.run" in graph  # the walk sees the demo package
    assert _circle(graph) is None, " -> ".join(_circle(graph) or [])


def test_a_circle_is_found() -> None:
    assert _circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_only_the_entry_imports_the_demo() -> None:
    graph = import_graph()
    importers = {
        module
        for module, imported in graph.items()
        if not module.startswith("ecr_sweeper.demo")
        and any(name.startswith("ecr_sweeper.demo") for name in imported)
    }
    assert importers == {"ecr_sweeper.entry"}


def test_kube_imports_nothing_of_aws() -> None:
    graph = import_graph()
    kube = {module for module in graph if module.startswith("ecr_sweeper.kube")}
    assert kube
    for module in kube:
        assert not {name for name in graph[module] if name.startswith("ecr_sweeper.aws")}, module
