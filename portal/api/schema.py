"""OpenAPI generation: every operation documents the shared error responses."""

from drf_spectacular.openapi import AutoSchema

from portal.api.serializers import ErrorSerializer

ERROR_CODES = {
    "400": "The request is invalid; `fields` says which parts.",
    "401": "No API key, or one that is unknown or revoked.",
    "403": "The key may not do this.",
    "404": "No such object for this key.",
    "405": "The method is not allowed on this resource.",
    "406": "The Accept header asks for a format this resource cannot give.",
    "409": "The object is not in a state that allows this.",
    "415": "The body is not JSON.",
    "429": "Too many requests for this key; retry after the Retry-After seconds.",
}


class PortalAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in ERROR_CODES.items():
            if code in responses:
                continue
            response = self._get_response_for_code(ErrorSerializer, code, None, direction)
            response["description"] = description
            responses[code] = response
        return responses
