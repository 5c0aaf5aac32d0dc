"""Staff sessions: signed out when idle, and asked to prove it is them before destroying things."""

from __future__ import annotations

import time
from collections.abc import Callable

from allauth.account.decorators import reauthentication_required
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

LAST_SEEN_KEY = "staff_last_seen"
# The session is written at most this often just to move the idle clock.
TOUCH_EVERY_SECONDS = 60


class StaffIdleTimeoutMiddleware:
    """Sign staff out after STAFF_SESSION_IDLE_MINUTES without a request.

    A staff session can suspend customers and delete filespaces; one left open on an unattended
    machine should not outlive its owner's attention. Customers keep the normal session length.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            now = int(time.time())
            last_seen = request.session.get(LAST_SEEN_KEY)
            idle_limit = settings.STAFF_SESSION_IDLE_MINUTES * 60
            if isinstance(last_seen, int) and now - last_seen > idle_limit:
                logout(request)
                messages.info(
                    request,
                    f"You were signed out after {settings.STAFF_SESSION_IDLE_MINUTES} minutes "
                    "without activity. Sign in again to continue.",
                )
                return redirect_to_login(request.get_full_path())
            if not isinstance(last_seen, int) or not 0 <= now - last_seen < TOUCH_EVERY_SECONDS:
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


@receiver(user_logged_in, dispatch_uid="portal.security.staff.start_idle_clock")
def start_idle_clock(sender, request, user, **kwargs) -> None:
    """The idle clock starts at sign-in, so the first page does not write the session again."""
    if user.is_staff and request is not None and hasattr(request, "session"):
        request.session[LAST_SEEN_KEY] = int(time.time())


def _is_staff(request: HttpRequest) -> bool:
    # Everyone else goes straight on to the view's own staff check (a 403 or the login page).
    return bool(getattr(request.user, "is_staff", False))


def destructive(view):
    """A staff action that cannot be undone: the person re-authenticates (password or TOTP)
    within the last few minutes first; a POST is replayed once they have."""
    return reauthentication_required(view, enabled=_is_staff)


def destructive_when(predicate: Callable[[HttpRequest], bool]):
    """Like `destructive`, for the requests of a view that `predicate` picks out."""

    def decorate(view):
        return reauthentication_required(
            view, enabled=lambda request: _is_staff(request) and predicate(request)
        )

    return decorate
