from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    """allauth hooks for the portal: signup can be closed by setting ACCOUNT_ALLOW_SIGNUP=false."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return getattr(settings, "ACCOUNT_ALLOW_SIGNUP", True)

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        # Staff land on the staff console (which sends them to set up TOTP first if they have
        # none); the Django admin is one link away in the console's navigation.
        if request.user.is_staff:
            return reverse("staff:dashboard")
        return super().get_login_redirect_url(request)
