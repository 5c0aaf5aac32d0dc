"""The error every simulated call raises to answer with the vendor's envelope."""

from __future__ import annotations


class ApiError(Exception):
    """Answer ``{"status": status, "message": message}``; ``reason`` goes in a debug header."""

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason

    def envelope(self) -> dict:
        return {"status": self.status, "message": self.message}


ILLEGAL_REQUEST = "Illegal request"
INVALID_DOMAIN_NAME = "Invalid domain name."
INVALID_DOMAIN_ID = "Invalid domain ID."
DOMAIN_NOT_FOUND = "Domain not found."
DOMAIN_NAME_TAKEN = "Domain name already taken."
ACCOUNT_HAS_DOMAIN = "Account has an existing domain."
DOMAIN_HAS_FILESPACES = "Domain has filespaces."
INVALID_FILESPACE = "Invalid request. Check filespace model definition."
FILESPACE_EXISTS = "Filespace name already exists."
REGION_DISABLED = "Filespace creation is currently disabled in the selected region."
INVALID_FILESPACE_ID = "Invalid filespace ID."
FILESPACE_NOT_FOUND = "Filespace not found."
DELETE_WHILE_PROVISIONING = "Cannot delete filespace while in status `provisioning`."
INVALID_BILLING = "Invalid request. Check billing model definition."
INVOICE_NOT_FOUND = "Invoice not found."
