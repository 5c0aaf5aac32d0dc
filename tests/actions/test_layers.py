"""Imports point down the floors of docs/architecture.md ("Layers").

Each module's imports (top-level and function-local, which hide a cycle just as well) are read
with `ast` and compared with the floor table below. The few imports that still run up are listed
in UPWARD with their reason; a new one fails the test, and so does an entry that is no longer
needed, so the list can only shrink.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FLOORS = {
    "portal.actions": 0,
    "portal.customers": 1,
    "portal.plans": 1,
    "portal.orders": 1,
    "portal.audit": 1,
    "provisioning": 2,
    "billing": 2,
    "portal.filespaces": 3,
    "portal.api": 3,
    "portal.staff": 3,
    "portal.webhooks": 3,
    "portal.apikeys": 3,
}
# Modules of a lower app that are entry points, so they sit on the top floor whatever their app.
CALLER_PARTS = {
    "views", "admin", "urls", "forms", "decorators", "middleware", "context_processors",
    "templatetags", "management", "tasks",
}  # fmt: skip

# (importing module, imported package) -> why it still runs up.
UPWARD = {
    ("portal.actions.guards", "portal.customers"): (
        "guards lock the customer row to read its status (function-local)"
    ),
    ("portal.actions.principal", "portal.customers"): "a person's role is a Membership row",
    ("portal.actions.registry", "portal.customers"): "a refusal is audited against its customer",
    ("portal.actions.registry", "portal.audit"): "record() writes the audit table",
    ("portal.actions.recording", "portal.audit"): "record() writes the audit table",
}


def _package(module: str) -> str | None:
    found = [package for package in FLOORS if module == package or module.startswith(package + ".")]
    return max(found, key=len) if found else None


def _floor_of(module: str) -> int | None:
    package = _package(module)
    if package is None:
        return None
    parts = module.split(".")[1:]
    if any(part in CALLER_PARTS or part.endswith(("_views", "_admin", "_urls")) for part in parts):
        return 3
    return FLOORS[package]


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _upward_imports():
    for base in ("portal", "provisioning", "billing"):
        for path in (ROOT / base).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            module = module.removesuffix(".__init__")
            mine = _floor_of(module)
            if mine is None:
                continue
            for imported in _imports(ast.parse(path.read_text())):
                package = _package(imported)
                if package is not None and FLOORS[package] > mine:
                    yield module, package


def test_imports_point_down_the_floors():
    found = set(_upward_imports())
    new = sorted(f"{module} imports {package}" for module, package in found - set(UPWARD))
    assert not new, f"imports that run up the floors of docs/architecture.md: {new}"


def test_the_list_of_upward_imports_only_shrinks():
    gone = sorted(
        f"{module} -> {package}" for module, package in set(UPWARD) - set(_upward_imports())
    )
    assert not gone, f"remove these from UPWARD, they no longer import up: {gone}"
