from django.conf import settings
from django.http import HttpRequest


def branding(request: HttpRequest) -> dict:
    return {"MSP_NAME": settings.MSP_NAME, "SUPPORT_EMAIL": settings.SUPPORT_EMAIL}
