from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from portal import checks  # noqa: F401 - registers system checks
        from portal.observability import receivers
        from portal.security import staff  # noqa: F401 - starts the staff idle clock at login

        receivers.connect()
