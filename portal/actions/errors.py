"""The one typed refusal every action raises, and how each entry point reads it."""

from django.core.exceptions import ValidationError


class Code:
    """Stable refusal codes: the API returns them as `error.code`; clients rely on them."""

    FORBIDDEN = "forbidden"  # the principal's side or role does not allow the action
    MFA_REQUIRED = "mfa_required"  # MSP staff without a second factor
    CUSTOMER_LOCKED = "customer_locked"  # the customer is suspended, terminating or terminated
    CUSTOMER_INACTIVE = "customer_inactive"  # MSP-side work on a customer that is not active
    INVALID_STATE = "conflict"  # the object is not in a state that allows it (API: 409 conflict)
    INVALID = "invalid"  # the input is wrong (fields carry the details)
    PAYMENT_METHOD_REQUIRED = "payment_method_required"  # save a card first (docs/payments.md)


# How the API answers each code; web pages show the message, the admin shows it as an error.
HTTP_STATUS = {
    Code.FORBIDDEN: 403,
    Code.MFA_REQUIRED: 403,
    Code.CUSTOMER_LOCKED: 403,
    Code.CUSTOMER_INACTIVE: 409,
    Code.INVALID_STATE: 409,
    Code.INVALID: 400,
    Code.PAYMENT_METHOD_REQUIRED: 402,
}


class Refused(ValidationError):
    """An action said no. `code` is stable (see Code); `messages` are for a person.

    A ValidationError so forms and pages that already show service errors keep working; the
    API's exception handler turns it into `{"error": {"code": ..., "message": ...}}` with the
    status from HTTP_STATUS.
    """

    def __init__(self, message, *, code: str = Code.INVALID_STATE):
        super().__init__(message, code=code)
        self.code = code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    @property
    def message_text(self) -> str:
        return " ".join(self.messages)
