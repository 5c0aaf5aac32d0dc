"""The connection guide's order: the first step not done, then Next and Back on the computer."""

from types import SimpleNamespace

from portal.filespaces.guide import guide_for


def fs(state="active", *, portal_holds_root=True):
    return SimpleNamespace(state=state, root_password="held-1" if portal_holds_root else "")


def init(state):
    return SimpleNamespace(state=state)


def test_no_guide_before_the_filespace_is_ready():
    assert guide_for(fs("provisioning"), init=None, own_user=None) is None


def test_a_ready_filespace_starts_at_initialize_and_waits_only_while_someone_else_works():
    idle = guide_for(fs("provisioned"), init=None, own_user=None)
    assert idle.current == "initialize" and not idle.waiting
    for state in ("requested", "running", "by_customer"):
        assert guide_for(fs("provisioned"), init=init(state), own_user=None).waiting
    assert not guide_for(fs("provisioned"), init=init("failed"), own_user=None).waiting


def test_an_active_filespace_asks_for_the_persons_own_user_before_anything_on_the_computer():
    guide = guide_for(fs(), init=init("done"), own_user=None, requested="link")
    assert guide.current == "user"
    assert [s.status for s in guide.steps] == ["done", "current", "next", "next", "next", "next"]


def test_with_a_user_the_computer_steps_follow_next_and_back():
    user = SimpleNamespace(name="dana")
    install = guide_for(fs(), init=None, own_user=user)
    assert (install.current, install.previous, install.next) == ("install", "", "link")
    link = guide_for(fs(), init=None, own_user=user, requested="link")
    assert (link.previous, link.next) == ("install", "mount")
    cache = guide_for(fs(), init=None, own_user=user, requested="cache")
    assert (cache.previous, cache.next) == ("mount", "")
    assert guide_for(fs(), init=None, own_user=user, requested="initialize").current == "install"


def test_when_the_customer_holds_root_there_is_no_user_step_to_wait_on():
    guide = guide_for(fs(portal_holds_root=False), init=None, own_user=None)
    assert guide.current == "install"
