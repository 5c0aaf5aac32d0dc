from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "portal.actions"
    label = "actions"
    verbose_name = "Actions and outbox"
