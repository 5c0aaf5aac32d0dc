from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    name = "portal.apikeys"
    label = "apikeys"
    verbose_name = "API keys"
