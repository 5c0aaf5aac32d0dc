"""The mutation workspace's rewrite of the actions (.ci/mutate.py, `unroll_decorators`).

mutmut mutates no decorated function, so `make mutate` writes each module it mutates with its
`@action`/`@transaction.atomic` decorators unrolled into `f = action(...)(f)`. These tests show
the rewrite is exact: the text it produces, the order the decorators run in, and, for every
module that registers actions, that the rewritten module imports and registers the same actions.
"""

import importlib.util
import inspect
import sys
import textwrap
import types
from pathlib import Path

import pytest

from portal.actions import ACTIONS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ci_mutate():
    spec = importlib.util.spec_from_file_location("ci_mutate", ROOT / ".ci" / "mutate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SAMPLE = textwrap.dedent(
    '''\
    """A sample module."""

    from django.db import transaction


    @action("sample.both", audit_refusals=True)
    # A comment between the decorators and the function stays with the function.
    @transaction.atomic
    def both(*, by) -> str:
        """Both decorators."""
        return "both"


    @transaction.atomic(using="default")
    def atomic_only():
        return 1


    @shared_task(bind=True)
    def a_task(self):
        return 2


    class Thing:
        @property
        def value(self):
            return 3


    def plain():
        return 4
    '''
)

UNROLLED = textwrap.dedent(
    '''\
    """A sample module."""

    from django.db import transaction


    # A comment between the decorators and the function stays with the function.
    def both(*, by) -> str:
        """Both decorators."""
        return "both"
    both = action("sample.both", audit_refusals=True)(transaction.atomic(both))


    def atomic_only():
        return 1
    atomic_only = transaction.atomic(using="default")(atomic_only)


    @shared_task(bind=True)
    def a_task(self):
        return 2


    class Thing:
        @property
        def value(self):
            return 3


    def plain():
        return 4
    '''
)


def test_actions_and_atomic_functions_are_unrolled_and_nothing_else_changes(ci_mutate):
    assert ci_mutate.unroll_decorators(SAMPLE) == UNROLLED


def test_a_module_without_those_decorators_is_returned_unchanged(ci_mutate):
    source = (ROOT / "portal" / "actions" / "guards.py").read_text()
    assert ci_mutate.unroll_decorators(source) == source


def _run_recording(source: str) -> list[str]:
    """Run `source` with decorators that record when they are made and applied."""
    events: list[str] = []

    def decorator(label):
        def apply(function):
            events.append(f"apply {label} to {function.__name__}")

            def wrapper(*args, **kwargs):
                return [label, *function(*args, **kwargs)]

            wrapper.__name__ = function.__name__
            return wrapper

        return apply

    def action(name, **options):
        events.append(f"make action {name} {options}")
        return decorator(f"action {name}")

    class Transaction:
        @property
        def atomic(self):
            events.append("make atomic")
            return decorator("atomic")

    namespace = {"action": action, "transaction": Transaction(), "__name__": "sample"}
    exec(compile(source, "sample.py", "exec"), namespace)  # noqa: S102 - running it is the test
    events.append(f"call: {namespace['f']()}")
    return events


def test_the_unrolled_decorators_are_made_and_applied_in_the_same_order(ci_mutate):
    source = textwrap.dedent(
        """\
        @action("x.y", audit_refusals=True)
        @transaction.atomic
        def f():
            return ["body"]
        """
    )
    unrolled = ci_mutate.unroll_decorators(source)
    assert "@" not in unrolled
    assert (
        _run_recording(unrolled)
        == _run_recording(source)
        == [
            "make action x.y {'audit_refusals': True}",
            "make atomic",
            "apply atomic to f",
            "apply action x.y to f",
            "call: ['action x.y', 'atomic', 'body']",
        ]
    )


def _describe(entry) -> dict:
    """What the registry holds for an action, minus object identity."""
    function = entry.function
    plain = inspect.unwrap(function)
    layers = 0
    while hasattr(function, "__wrapped__"):
        function, layers = function.__wrapped__, layers + 1
    subject = entry.subject
    return {
        "name": entry.name,
        "audit_refusals": entry.audit_refusals,
        "audited_codes": entry.audited_codes,
        "subject": subject and (subject.__module__, subject.__qualname__),
        "action_name": entry.function.action_name,
        "names": (entry.function.__module__, entry.function.__qualname__),
        "doc": entry.function.__doc__,
        "signature": str(inspect.signature(entry.function)),
        "layers": layers,
        "code": (plain.__code__.co_code, plain.__code__.co_names, plain.__code__.co_varnames),
    }


def _action_modules() -> list[str]:
    """Every module whose source registers an action, imported."""
    modules = []
    for package in ("portal", "provisioning", "billing"):
        for path in (ROOT / package).rglob("*.py"):
            if "\n@action(" in path.read_text():
                name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                modules.append(importlib.import_module(name).__name__)
    return sorted(modules)


def test_every_action_module_imports_rewritten_and_registers_the_same_actions(ci_mutate):
    modules = _action_modules()
    assert set(modules) == {entry.function.__module__ for entry in ACTIONS.values()}
    assert {"portal.customers.services", "provisioning.services.ordering"} <= set(modules)
    before = dict(ACTIONS)
    try:
        for name in modules:
            original = sys.modules[name]
            mine = {
                key: entry for key, entry in ACTIONS.items() if entry.function.__module__ == name
            }
            for key in mine:
                del ACTIONS[key]
            source = Path(original.__file__).read_text()
            rewritten = types.ModuleType(name)
            rewritten.__file__ = original.__file__
            code = compile(ci_mutate.unroll_decorators(source), original.__file__, "exec")
            exec(code, rewritten.__dict__)  # noqa: S102 - importing the rewrite is the test
            again = {key: entry for key, entry in ACTIONS.items() if key in mine}
            assert {key: _describe(e) for key, e in again.items()} == {
                key: _describe(e) for key, e in mine.items()
            }, name
            assert _public(rewritten) == _public(original), name
            for key, entry in again.items():
                assert getattr(rewritten, entry.function.__name__) is entry.function, key
    finally:
        ACTIONS.clear()
        ACTIONS.update(before)
    assert before == ACTIONS


def _public(module) -> set[str]:
    return {name for name in vars(module) if not name.startswith("__")}
