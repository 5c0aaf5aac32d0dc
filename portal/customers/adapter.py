from dataclasses import dataclass
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse


@dataclass(frozen=True)
class PortalSite:
    """What allauth's emails call `current_site`: the MSP's name and the portal's public host.

    django.contrib.sites is not installed, so allauth would fall back to the request's host
    ("Hello from 127.0.0.1:8700!"); the portal's own settings say who is writing.
    """

    name: str
    domain: str


def portal_site() -> PortalSite:
    return PortalSite(name=settings.MSP_NAME, domain=urlsplit(settings.PORTAL_BASE_URL).netloc)


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

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        super().send_mail(template_prefix, email, {**context, "current_site": portal_site()})
