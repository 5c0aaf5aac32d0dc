from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from portal import checks  # noqa: F401 - registers system checks
        from portal.observability import receivers
        from portal.security import staff  # noqa: F401 - starts the staff idle clock at login

        receivers.connect()
        brand_admin_site()


def brand_admin_site() -> None:
    """The Django admin carries the MSP's name instead of "Django administration"."""
    from django.conf import settings
    from django.contrib import admin

    admin.site.site_header = f"{settings.MSP_NAME} administration"
    admin.site.site_title = f"{settings.MSP_NAME} administration"
    admin.site.index_title = "Records"
