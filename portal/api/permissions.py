from rest_framework.permissions import BasePermission

from portal.apikeys.models import ApiKey


class HasApiKey(BasePermission):
    message = "Send an API key: Authorization: Bearer <key>."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)


class IsMspKey(BasePermission):
    message = "Only an MSP key may do this."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey) and request.auth.is_msp
