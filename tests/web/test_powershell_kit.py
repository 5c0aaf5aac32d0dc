"""The connection kit's PowerShell script, parsed with tree-sitter's PowerShell grammar.

pwsh does not install on these machines (no Debian package; Microsoft's repository is not
reachable), so the grammar from PyPI stands in for PowerShell's own parser: a script it cannot
parse, or one where a value escaped its quotes, fails here. docs/managed-operations.md says
what a person still checks by hand on Windows.
"""

import pytest
import tree_sitter
import tree_sitter_powershell

from portal.filespaces import kit as kits
from portal.plans.models import StorageOwner

pytestmark = pytest.mark.django_db

HOSTILE_MSP = "Acme \"Cloud\" $(Remove-Item C:\\) 'Ltd' `n\r\nWrite-Host pwned"


def parse(script: str) -> tree_sitter.Node:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    return parser.parse(script.encode()).root_node


def nodes(root: tree_sitter.Node, kind: str) -> list[tree_sitter.Node]:
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        if node.type == kind:
            found.append(node)
        stack.extend(node.children)
    return found


def problems(root: tree_sitter.Node) -> list[str]:
    """Error and missing nodes, each with its line, for a readable failure."""
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            found.append(f"line {node.start_point[0] + 1}: {node.type} {node.text[:60]!r}")
        stack.extend(node.children)
    return found


def _ps_unquote(literal: str) -> str:
    assert literal.startswith("'") and literal.endswith("'"), literal
    return literal[1:-1].replace("''", "'")


@pytest.fixture
def filespace(filespace_factory, plan_factory):
    def make(owner: str):
        plan = plan_factory(
            storage_owner=owner,
            subscription_type="custom" if owner == StorageOwner.CUSTOMER else "teams",
            provider="AWS" if owner == StorageOwner.CUSTOMER else "IBM",
        )
        return filespace_factory(
            plan=plan,
            state="provisioned",
            region="eu-west-1" if owner == StorageOwner.CUSTOMER else "us-east",
            bucket="o'brien-bucket" if owner == StorageOwner.CUSTOMER else "",
            domain_name="msp",
        )

    return make


@pytest.mark.parametrize("owner", [StorageOwner.CUSTOMER, StorageOwner.LUCIDLINK])
@pytest.mark.parametrize("run_init", [True, False])
def test_the_powershell_script_parses_without_an_error(filespace, owner, run_init):
    kit = kits.kit_for(filespace(owner), access_key="AKIA'EXAMPLE", user_name="dana")

    root = parse(kits.powershell_script(kit, msp_name=HOSTILE_MSP, run_init=run_init))

    assert not root.has_error, problems(root)


def test_the_msp_name_stays_inside_one_comment(filespace):
    kit = kits.kit_for(filespace(StorageOwner.CUSTOMER), access_key="AK")

    root = parse(kits.powershell_script(kit, msp_name=HOSTILE_MSP, run_init=True))

    holding = [node for node in nodes(root, "comment") if b"Remove-Item" in node.text]
    assert len(holding) == 1
    commands = [node.text for node in nodes(root, "command")]
    assert not any(b"pwned" in command or b"Remove-Item" in command for command in commands)


def test_each_lucid_command_gets_exactly_the_kits_arguments(filespace):
    kit = kits.kit_for(filespace(StorageOwner.CUSTOMER), access_key="AKIA'EXAMPLE")

    root = parse(kits.powershell_script(kit, msp_name="Acme", run_init=True))

    literals = [_ps_unquote(node.text.decode()) for node in nodes(root, "string_literal")
                if node.text.startswith(b"'")]  # fmt: skip
    for step in kit.steps:
        fixed = [arg for arg in step.args[1:] if isinstance(arg, str)]
        for value in fixed:
            assert value in literals, (step.key, value)
    assert "o'brien-bucket" in literals and "AKIA'EXAMPLE" in literals
    assert "--block-size" in literals


def test_the_parser_does_find_a_broken_script(filespace):
    kit = kits.kit_for(filespace(StorageOwner.CUSTOMER), access_key="AK")
    script = kits.powershell_script(kit, msp_name="Acme", run_init=True)

    broken = script.replace("Invoke-Lucid { & $Lucid 'link'", "Invoke-Lucid { & $Lucid 'link", 1)

    assert broken != script
    assert parse(broken).has_error
