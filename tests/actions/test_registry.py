"""The registries cannot fall behind the code: every URL, action and audit write is counted."""

import ast
from pathlib import Path

from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver

from portal.actions import ACTIONS
from portal.actions.entry_points import ADMIN_ACTIONS, ENTRY_POINTS, READ_ONLY, SYSTEM_CALLERS
from tests.actions.scenarios import ENTRY_POINTS_NOT_IN_MATRIX, NOT_IN_MATRIX, SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
# URL names that belong to libraries (allauth, the admin), not to the portal's own pages.
FOREIGN = ("admin:", "account_", "mfa_", "socialaccount_", "api-root", "api:api-root")


def _url_names(patterns=None, namespace: str = ""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_portal_url_is_an_entry_point_or_read_only():
    names = {name for name in _url_names() if not name.startswith(FOREIGN)}
    names = {name for name in names if "format" not in name}
    unaccounted = sorted(names - set(ENTRY_POINTS) - READ_ONLY)
    assert not unaccounted, (
        "Declare these URLs in portal/actions/entry_points.py (ENTRY_POINTS with the actions "
        f"they call, or READ_ONLY): {unaccounted}"
    )
    stale = sorted((set(ENTRY_POINTS) | READ_ONLY) - names)
    assert not stale, f"entry_points.py names URLs that no longer exist: {stale}"


def test_every_entry_point_names_registered_actions():
    declared = [*ENTRY_POINTS.values(), *ADMIN_ACTIONS.values(), *SYSTEM_CALLERS.values()]
    unknown = sorted({name for names in declared for name in names} - set(ACTIONS))
    assert not unknown, f"entry points name actions that are not registered: {unknown}"


def test_every_action_has_an_entry_point():
    declared = [*ENTRY_POINTS.values(), *ADMIN_ACTIONS.values(), *SYSTEM_CALLERS.values()]
    reached = {name for names in declared for name in names}
    orphans = sorted(set(ACTIONS) - reached)
    assert not orphans, f"registered actions nobody calls (declare their callers): {orphans}"


def test_every_admin_model_action_is_declared():
    found = set()
    for model, model_admin in admin.site._registry.items():
        if not model.__module__.startswith(("portal.", "provisioning.", "billing.")):
            continue  # allauth's and Django's own admin actions change no product state
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        for action in model_admin.actions or ():
            name = action if isinstance(action, str) else action.__name__
            found.add(f"{label}:{name}")
        if type(model_admin).save_model is not admin.ModelAdmin.save_model:
            found.add(f"{label}:save_model")
    missing = sorted(found - set(ADMIN_ACTIONS) - {"billing.invoice:verify"})
    assert not missing, f"admin actions not declared in ADMIN_ACTIONS: {missing}"


def test_every_action_is_in_the_matrix_or_says_why_not():
    in_matrix = {scenario.action for scenario in SCENARIOS.values()}
    missing = sorted(set(ACTIONS) - in_matrix - set(NOT_IN_MATRIX))
    assert not missing, f"actions with no matrix scenario (tests/actions/scenarios.py): {missing}"
    assert not in_matrix & set(NOT_IN_MATRIX), "an action is both in the matrix and excused"
    assert not set(NOT_IN_MATRIX) - set(ACTIONS), "NOT_IN_MATRIX names unregistered actions"


def _declared_calls():
    """(entry point, action) for every URL and admin action that calls an action."""
    for table in (ENTRY_POINTS, ADMIN_ACTIONS):
        for entry, names in table.items():
            for name in names:
                yield entry, name


def test_every_entry_point_of_a_matrix_action_is_driven_by_the_matrix():
    """A URL or admin action added for an action in the matrix must be driven by its scenario
    (or excused with a reason), so the matrix cannot fall behind the entry points."""
    driven = {
        (entry.name, scenario.action)
        for scenario in SCENARIOS.values()
        for entry in scenario.entry_points
    }
    in_matrix = {scenario.action for scenario in SCENARIOS.values()}
    missing = sorted(
        f"{entry} -> {name}"
        for entry, name in _declared_calls()
        if name in in_matrix
        and (entry, name) not in driven
        and entry not in ENTRY_POINTS_NOT_IN_MATRIX
    )
    assert not missing, (
        "entry points of matrix actions that no scenario drives (add the entry point to the "
        f"scenario in tests/actions/scenarios.py): {missing}"
    )


def test_the_matrix_drives_only_declared_entry_points():
    declared = set(_declared_calls())
    undeclared = sorted(
        f"{entry.name} -> {scenario.action}"
        for scenario in SCENARIOS.values()
        for entry in scenario.entry_points
        if entry.kind != "service" and (entry.name, scenario.action) not in declared
    )
    assert not undeclared, f"declare these in portal/actions/entry_points.py: {undeclared}"
    stale = sorted(set(ENTRY_POINTS_NOT_IN_MATRIX) - {entry for entry, _name in _declared_calls()})
    assert not stale, f"ENTRY_POINTS_NOT_IN_MATRIX names unknown entry points: {stale}"


def test_only_actions_write_the_audit_log():
    """`audit_record`/`audit_write` are called by portal.actions.record only; a module that writes
    the log directly is a state change hiding from the registry."""
    offenders = []
    for path in [*ROOT.glob("portal/**/*.py"), *ROOT.glob("provisioning/**/*.py"),
                 *ROOT.glob("billing/**/*.py")]:  # fmt: skip
        if "migrations" in path.parts or path.parts[-2] in ("audit", "actions"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in ("audit_record", "audit_write"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"write the audit log through an action's record(): {offenders}"
