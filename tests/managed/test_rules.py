"""The portal's name rules agree with LucidLink's (the simulator's) and never crash on input."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from lucidsim import cliops
from portal.filespaces import managed_forms
from provisioning import cli, managed
from tests.managed.conftest import ROOT_PASSWORD

NAMEISH = st.text(alphabet=st.sampled_from("aZ09-_.@ ()/;:'\"éx\t\n"), min_size=0, max_size=140)


def _accepts(check, value) -> bool:
    try:
        check(value)
    except ValidationError:
        return False
    return True


@given(NAMEISH)
def test_a_user_name_the_portal_accepts_is_one_lucidlink_accepts(name):
    if _accepts(managed.validate_user_name, name):
        assert cliops.USER_NAME_RE.match(name.strip())
        assert name.strip().lower() != "root"


@given(NAMEISH)
def test_a_snapshot_name_the_portal_accepts_is_one_lucidlink_accepts(name):
    if _accepts(managed.validate_snapshot_name, name) and name.strip():
        assert cliops.SNAPSHOT_NAME_RE.match(name.strip())


@given(NAMEISH)
def test_a_schedule_name_the_portal_accepts_is_one_lucidlink_accepts(name):
    if _accepts(managed.validate_schedule_name, name):
        assert cliops.SCHEDULE_NAME_RE.match(name.strip())


@given(st.text(alphabet="0123456789mhdwoy -", max_size=8))
def test_an_interval_the_portal_accepts_is_one_lucidlink_accepts(interval):
    if _accepts(managed.validate_interval, interval):
        assert cliops.INTERVAL_RE.match(interval.strip())


@given(
    st.fixed_dictionaries(
        {"name": NAMEISH, "interval": st.text(max_size=12), "retention": st.text(max_size=8)}
    )
)
def test_the_schedule_form_never_crashes_on_any_input(data):
    form = managed_forms.ScheduleCreateForm(data)
    if form.is_valid():
        assert cliops.SCHEDULE_NAME_RE.match(form.cleaned_data["name"])
        assert cliops.INTERVAL_RE.match(form.cleaned_data["interval"])
        assert 1 <= form.cleaned_data["retention"] <= managed.MAX_RETENTION


@given(st.fixed_dictionaries({"name": NAMEISH, "email": st.text(max_size=30)}))
def test_the_user_form_never_crashes_on_any_input(data):
    form = managed_forms.UserCreateForm(data)
    if form.is_valid():
        assert cliops.USER_NAME_RE.match(form.cleaned_data["name"])


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
