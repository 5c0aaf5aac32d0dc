"""The portal's name rules agree with LucidLink's (the simulator's) and never crash on input."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from lucidsim import cliops
from portal.filespaces import managed_forms
from provisioning import cli
from provisioning.managed import services as managed
from tests.managed.conftest import ROOT_PASSWORD
from tests.reach import Reach

NAMEISH = st.text(alphabet=st.sampled_from("aZ09-_.@ ()/;:'\"éx\t\n"), min_size=0, max_size=140)
PADDING = st.sampled_from(["", " ", "\t", "  "])


def lucidlink_grammar(pattern) -> st.SearchStrategy[str]:
    """Names LucidLink's own pattern produces, sometimes padded: most of them valid."""
    core = st.from_regex(pattern, fullmatch=True)
    return st.tuples(PADDING, core, PADDING).map("".join)


def near(pattern) -> st.SearchStrategy[str]:
    """Half built from LucidLink's grammar, half anything name-like (mostly invalid)."""
    return st.one_of(lucidlink_grammar(pattern), NAMEISH)


def sometimes_broken(fields: dict, anything: st.SearchStrategy[str]) -> st.SearchStrategy[dict]:
    """A form built from the grammars; in about a third of them one field is replaced."""
    which = st.sampled_from([None] * (2 * len(fields)) + sorted(fields))
    return st.tuples(st.fixed_dictionaries(fields), which, anything).map(
        lambda t: t[0] if t[1] is None else {**t[0], t[1]: t[2]}
    )


VALID_INTERVALS = st.tuples(
    st.integers(1, 9999), st.sampled_from(["m", "h", "d", "w", "mo", "y"])
).map(lambda t: f"{t[0]}{t[1]}")
INTERVALS = st.one_of(VALID_INTERVALS, st.text(alphabet="0123456789mhdwoy -", max_size=8))
# Each property must reach its point (the input accepted) in at least this share of examples;
# the strategies make about half of them valid, so this leaves a margin of several deviations.
MIN_ACCEPTED = 0.25


def _accepts(check, value) -> bool:
    try:
        check(value)
    except ValidationError:
        return False
    return True


def test_a_user_name_the_portal_accepts_is_one_lucidlink_accepts():
    reach = Reach("user name accepted")

    @given(near(cliops.USER_NAME_RE))
    def check(name):
        reach.tried()
        if _accepts(managed.validate_user_name, name):
            reach.reached()
            assert cliops.USER_NAME_RE.match(name.strip())
            assert name.strip().lower() != "root"

    check()
    reach.assert_share(MIN_ACCEPTED)


def test_a_snapshot_name_the_portal_accepts_is_one_lucidlink_accepts():
    reach = Reach("snapshot name accepted")

    @given(near(cliops.SNAPSHOT_NAME_RE))
    def check(name):
        reach.tried()
        if _accepts(managed.validate_snapshot_name, name) and name.strip():
            reach.reached()
            assert cliops.SNAPSHOT_NAME_RE.match(name.strip())

    check()
    reach.assert_share(MIN_ACCEPTED)


def test_a_schedule_name_the_portal_accepts_is_one_lucidlink_accepts():
    reach = Reach("schedule name accepted")

    @given(near(cliops.SCHEDULE_NAME_RE))
    def check(name):
        reach.tried()
        if _accepts(managed.validate_schedule_name, name):
            reach.reached()
            assert cliops.SCHEDULE_NAME_RE.match(name.strip())

    check()
    reach.assert_share(MIN_ACCEPTED)


def test_an_interval_the_portal_accepts_is_one_lucidlink_accepts():
    reach = Reach("interval accepted")

    @given(INTERVALS)
    def check(interval):
        reach.tried()
        if _accepts(managed.validate_interval, interval):
            reach.reached()
            assert cliops.INTERVAL_RE.match(interval.strip())

    check()
    reach.assert_share(MIN_ACCEPTED)


def test_the_schedule_form_never_crashes_on_any_input():
    reach = Reach("schedule form valid")
    fields = {
        # LucidLink's schedule name grammar, starting with a non-space so it survives strip().
        "name": st.from_regex(r"[A-Za-z0-9_()-][A-Za-z0-9 _()-]{0,39}", fullmatch=True),
        "interval": VALID_INTERVALS,
        "retention": st.integers(1, managed.MAX_RETENTION).map(str),
    }
    forms = sometimes_broken(fields, st.text(max_size=12))

    @given(forms)
    def check(data):
        reach.tried()
        form = managed_forms.ScheduleCreateForm(data)
        if form.is_valid():
            reach.reached()
            assert cliops.SCHEDULE_NAME_RE.match(form.cleaned_data["name"])
            assert cliops.INTERVAL_RE.match(form.cleaned_data["interval"])
            assert 1 <= form.cleaned_data["retention"] <= managed.MAX_RETENTION
        else:
            assert form.errors

    check()
    reach.assert_share(MIN_ACCEPTED)


def test_the_user_form_never_crashes_on_any_input():
    reach = Reach("user form valid")
    fields = {
        "name": lucidlink_grammar(cliops.USER_NAME_RE),
        "email": st.one_of(
            st.just(""),
            st.from_regex(r"[a-z0-9.]{1,20}@[a-z0-9]{1,20}\.(com|net|org)", fullmatch=True),
        ),
    }
    forms = sometimes_broken(fields, NAMEISH)

    @given(forms)
    def check(data):
        reach.tried()
        form = managed_forms.UserCreateForm(data)
        if form.is_valid():
            reach.reached()
            assert cliops.USER_NAME_RE.match(form.cleaned_data["name"])
        else:
            assert form.errors

    check()
    reach.assert_share(MIN_ACCEPTED)


def test_generated_passwords_are_long_random_and_never_look_like_an_option():
    passwords = {managed.generate_password() for _ in range(200)}

    assert len(passwords) == 200
    assert all(len(p) == 24 and p[0].isalpha() and p.isalnum() for p in passwords)


@pytest.mark.django_db
@pytest.mark.parametrize("via", ["stdin", "env", "argv"])
def test_every_password_channel_works_with_the_cli(active, settings, via):
    filespace = active()
    settings.LUCID_CLI_PASSWORD_VIA = via

    runner = cli.for_filespace(filespace.qualified_name)

    assert runner.snapshot_create(root_password=ROOT_PASSWORD, name=via) == 1
