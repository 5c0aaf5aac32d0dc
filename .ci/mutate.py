"""Mutation testing of the rules that matter: `make mutate [TARGETS=...]`.

Reads the targets from `[tool.mutate.targets]` in pyproject.toml (modules to mutate and the
tests that guard them). Each target runs mutmut in its own workspace, var/mutate/<target>/:
the workspace holds links to the project's packages and a pyproject.toml whose [tool.mutmut]
names only that target's modules and tests, so mutmut's copy (mutants/) and its cached results
stay under var/ and a rerun continues where the last one stopped. Runs on SQLite (each mutant's
test run gets its own in-memory database); real-worker tests are left out.

mutmut leaves every decorated function alone, and the actions are decorated (`@action`,
`@transaction.atomic`). So the workspace's packages are a tree of links to the project's files
in which each module to mutate is written out with those decorators unrolled:
`def f(...): ...` then `f = action("x.y")(f)` (`unroll_decorators`). mutmut then mutates the
body as a plain function and its trampoline sits inside the decorator; the project's code is
unchanged.

Prints, per module, the mutation score and every surviving mutant (`--diffs` shows each one's
change). Exits non-zero when a target failed to run, not when mutants survive: the survivors
are judged by a person and written down in docs/testing.md.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

import libcst as cst

ROOT = Path(__file__).resolve().parent.parent
WORKSPACES = ROOT / "var" / "mutate"
# What the tests need besides the packages; linked into every workspace.
LINKED = ["tests", "templates", "static", "docs", "manage.py", ".env.example"]
# The packages: mirrored file by file (mutmut walks them without following linked folders).
PACKAGES = ["portal", "provisioning", "billing", "lucidsim"]
# Decorators whose functions are unrolled in the workspace so mutmut reaches their bodies: the
# registry's `action(...)` and `transaction.atomic` with or without arguments. Others (a task's
# `@shared_task`, `@property`) change what the name is bound to in ways a trampoline would not
# survive or that need their own proof, so they stay as written and are listed as not mutated.
UNROLLED = re.compile(r"(action|transaction\.atomic)(\(.*\))?", re.DOTALL)
# Settings that would point the mutants' test runs at a shared database or broker.
UNSET = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")
# The work-tree guard (tests/fixtures/worktree.py) is left out: a mutant's session runs in its
# workspace under var/, and an edit made to the tree during a long run must not fail (and so
# "kill") whichever mutant happened to be running.
PYTEST_ARGS = ["-p", "no:cacheprovider", "-p", "no:tests.fixtures.worktree", "-m", "not worker"]
# Each mutant's pytest session builds its own database; from the models, not the migrations, is
# seconds faster. A target whose tests need a data migration sets `pytest_args = []`.
FAST_DB = ["--no-migrations"]
RESULT_LINE = re.compile(r"^\s+(?P<name>\S+): (?P<status>.+)$")


def targets() -> dict[str, dict]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data["tool"]["mutate"]["targets"]


def module_of(mutant: str) -> str:
    """`portal.webhooks.signing.x_verify__mutmut_3` -> `portal.webhooks.signing` (also for
    methods: `...authentication.xǁClassǁmethod__mutmut_1`)."""
    return mutant.rsplit(".", 1)[0]


def _unrollable(function: cst.FunctionDef) -> bool:
    module = cst.Module(body=[])
    return bool(function.decorators) and all(
        UNROLLED.fullmatch(module.code_for_node(d.decorator)) for d in function.decorators
    )


def unroll_decorators(source: str) -> str:
    """`source` with each module-level function decorated only by `UNROLLED` decorators
    rewritten as the plain function followed by the decorators applied by hand:

        @action("order.approve", audit_refusals=True)      def order_approve(*, order, by): ...
        @transaction.atomic                          ->    order_approve = action(
        def order_approve(*, order, by): ...                   "order.approve", audit_refusals=True
                                                           )(transaction.atomic(order_approve))

    which is what the decorator syntax means: the innermost decorator is applied first, each
    decorator expression is evaluated once, and the name ends up bound to the decorated
    function. The one difference, that the name is briefly bound to the plain function, is
    invisible to these decorators: none reads the name. Everything else is left as written."""
    module = cst.parse_module(source)
    body: list[cst.CSTNode] = []
    for statement in module.body:
        if not (isinstance(statement, cst.FunctionDef) and _unrollable(statement)):
            body.append(statement)
            continue
        name = statement.name
        decorated: cst.BaseExpression = name
        for decorator in reversed(statement.decorators):
            decorated = cst.Call(func=decorator.decorator, args=[cst.Arg(decorated)])
        body.append(
            statement.with_changes(
                decorators=[],
                leading_lines=[
                    *statement.leading_lines,
                    *(line for d in statement.decorators for line in d.leading_lines),
                    *statement.lines_after_decorators,
                ],
                lines_after_decorators=[],
            )
        )
        body.append(
            cst.SimpleStatementLine(
                body=[cst.Assign(targets=[cst.AssignTarget(target=name)], value=decorated)]
            )
        )
    return module.with_changes(body=body).code


def not_mutated(module: str) -> list[str]:
    """The functions mutmut 3 leaves alone in `module`: it mutates no decorated function (a
    task's `@shared_task`, a `@property`), only plain functions and methods, `@staticmethod`
    and `@classmethod` ones included, and the actions unrolled in the workspace."""
    tree = ast.parse(unroll_decorators((ROOT / module).read_text()))
    skipped = []
    for node in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef))]:
        for child in node.body:
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            decorators = [ast.unparse(d) for d in child.decorator_list]
            if decorators and decorators not in (["staticmethod"], ["classmethod"]):
                owner = f"{node.name}." if isinstance(node, ast.ClassDef) else ""
                skipped.append(f"{owner}{child.name}")
    return skipped


def mutmut_config(target: dict) -> str:
    def toml_list(values: list[str]) -> str:
        return "[" + ", ".join(f'"{v}"' for v in values) + "]"

    return (
        "\n[tool.mutmut]\n"
        f"source_paths = {toml_list(PACKAGES)}\n"
        f"only_mutate = {toml_list(target['modules'])}\n"
        f"also_copy = {toml_list(['templates', 'static', 'docs', 'manage.py', '.env.example'])}\n"
        f"pytest_add_cli_args_test_selection = {toml_list(target['tests'])}\n"
        f"pytest_add_cli_args = {toml_list(PYTEST_ARGS + target.get('pytest_args', FAST_DB))}\n"
    )


def mirror(package: str, workspace: Path, modules: set[str]) -> None:
    """The workspace's `package`: folders, and a link to each of the project's files except the
    `modules` to mutate, which are written out with their decorators unrolled. Files gone from
    the project are removed, so a rerun sees the tree as it is now."""
    top = workspace / package
    if top.is_symlink():  # a workspace prepared before the packages were mirrored
        top.unlink()
    wanted = set()
    for folder, dirs, files in os.walk(ROOT / package):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        relative = Path(folder).relative_to(ROOT)
        (workspace / relative).mkdir(parents=True, exist_ok=True)
        for file in files:
            path = relative / file
            wanted.add(path)
            copy = workspace / path
            if path.as_posix() in modules:
                text = unroll_decorators((ROOT / path).read_text())
                if copy.is_symlink():
                    copy.unlink()
                if not copy.exists() or copy.read_text() != text:
                    copy.write_text(text)  # only when changed: mutmut compares times
            elif not copy.is_symlink():
                copy.unlink(missing_ok=True)
                copy.symlink_to(ROOT / path)
    for folder, _dirs, files in os.walk(top):
        for file in files:
            path = Path(folder, file).relative_to(workspace)
            if path not in wanted:
                (workspace / path).unlink()


def prepare(name: str, target: dict) -> Path:
    workspace = WORKSPACES / name
    workspace.mkdir(parents=True, exist_ok=True)
    for entry in LINKED:
        link = workspace / entry
        if not link.is_symlink():
            link.symlink_to(ROOT / entry)
    for package in PACKAGES:
        mirror(package, workspace, set(target["modules"]))
    pyproject = (ROOT / "pyproject.toml").read_text() + mutmut_config(target)
    config = workspace / "pyproject.toml"
    if not config.exists() or config.read_text() != pyproject:
        config.write_text(pyproject)
    return workspace


def run(name: str, target: dict, *, children: int, budget: float, only: list[str]) -> bool:
    workspace = prepare(name, target)
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    mutmut = [sys.executable, "-m", "mutmut"]
    print(f"== {name}: {', '.join(target['modules'])} against {' '.join(target['tests'])}")
    started = time.monotonic()
    log_path = workspace / "mutmut.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [*mutmut, "run", "--max-children", str(children), *only],
            cwd=workspace,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            process.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            print(f"   stopped after {budget:.0f}s; `make mutate` again continues from here")
        else:
            if process.returncode != 0:
                print(log_path.read_text()[-3000:], file=sys.stderr)
                print(f"   mutmut failed (exit {process.returncode}); its output: {log_path}")
                return False
    print(f"   {time.monotonic() - started:.0f}s")
    report(workspace, mutmut, env, target["modules"])
    return True


def report(
    workspace: Path, mutmut: list[str], env: dict[str, str], modules: list[str], *, diffs=False
) -> None:
    listing = subprocess.run(
        [*mutmut, "results", "--all", "true"],
        cwd=workspace, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    by_module: dict[str, Counter] = defaultdict(Counter)
    survivors: list[tuple[str, str]] = []
    for line in listing.splitlines():
        match = RESULT_LINE.match(line)
        if not match:
            continue
        mutant, status = match["name"], match["status"].strip()
        by_module[module_of(mutant)][status] += 1
        if status not in ("killed", "not checked"):
            survivors.append((mutant, status))
    for module, counts in sorted(by_module.items()):
        checked = sum(n for status, n in counts.items() if status != "not checked")
        killed = counts["killed"]
        score = f"{100 * killed / checked:.0f}%" if checked else "n/a"
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        print(f"   {module}: {score} killed of {checked} checked ({detail})")
    for module in modules:
        skipped = not_mutated(module)
        if skipped:
            print(f"   not mutated (decorated) in {module}: {', '.join(skipped)}")
    for mutant, status in survivors:
        print(f"   {status}: {mutant}")
        if diffs:
            shown = subprocess.run(
                [*mutmut, "show", mutant], cwd=workspace, env=env, capture_output=True, text=True
            ).stdout
            print("      " + "\n      ".join(shown.splitlines()[1:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="targets from pyproject.toml (default: all)")
    parser.add_argument("--children", type=int, default=1, help="parallel mutants (default 1)")
    parser.add_argument(
        "--budget", type=float, default=1200, help="seconds per target before it is stopped"
    )
    parser.add_argument("--report", action="store_true", help="only print the last results")
    parser.add_argument("--diffs", action="store_true", help="show each survivor's change")
    parser.add_argument(
        "--mutant",
        action="append",
        default=[],
        help="run only this mutant (repeatable), e.g. to check that a new test kills it",
    )
    args = parser.parse_args()
    known = targets()
    chosen = args.targets or list(known)
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(known)}")
    ok = True
    for name in chosen:
        if args.report:
            workspace = prepare(name, known[name])
            env = {k: v for k, v in os.environ.items() if k not in UNSET}
            print(f"== {name}")
            report(
                workspace, [sys.executable, "-m", "mutmut"], env, known[name]["modules"],
                diffs=args.diffs,
            )  # fmt: skip
        else:
            ok = (
                run(name, known[name], children=args.children, budget=args.budget, only=args.mutant)
                and ok
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
