"""Typed errors of the `lucid` runner; `message` is for the customer, `detail` for support."""

from __future__ import annotations

# The CLI's stderr carries at most this much into an error message.
_MAX_DETAIL = 300


class CliError(Exception):
    """A failed `lucid` call. `message` is for the customer; `detail` is the CLI's own words.

    Both are scrubbed of the call's secrets before the error is built. `tells_support` marks
    the failures a customer cannot fix (the portal's own setup or its options): their message
    says support has been told, so whoever records the failure must tell support.
    """

    default_message = "The LucidLink client failed."
    tells_support = False

    def __init__(self, message: str = "", *, detail: str = "", returncode: int | None = None):
        self.message = message or self.default_message
        self.detail = detail[:_MAX_DETAIL]
        self.returncode = returncode
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, returncode={self.returncode!r})"

    def __reduce__(self):
        # Keep the typed error intact through pickling (Celery results, retries).
        return (
            _restore,
            (type(self), self.message, self.detail, self.returncode),
        )


def _restore(cls, message, detail, returncode):
    return cls(message, detail=detail, returncode=returncode)


class CliUnavailable(CliError):
    default_message = (
        "The LucidLink client could not complete the request right now. Nothing was changed "
        "by the portal; try again in a few minutes."
    )


class CliTimeout(CliUnavailable):
    pass


class CliNotInstalled(CliUnavailable):
    """The binary could not be started: a setup fault of the portal that retrying cannot fix."""

    tells_support = True


class CliOutputError(CliError):
    tells_support = True
    default_message = (
        "The LucidLink client answered in a way the portal could not read. Check the list "
        "before trying again; our support team has been told."
    )


class CliRejected(CliError):
    default_message = "LucidLink refused the request."


class WrongPassword(CliRejected):
    default_message = (
        "LucidLink did not accept the filespace's root password that the portal holds. "
        "Contact support to reset it; nothing was changed."
    )


class FilespaceNotFound(CliRejected):
    default_message = (
        "LucidLink does not know this filespace. Contact support if you did not delete it."
    )


class NotInitialized(CliRejected):
    default_message = "The filespace is not initialized yet, so it cannot be managed."


class AlreadyInitialized(CliRejected):
    default_message = "The filespace is already initialized."


class Conflict(CliRejected):
    """The name is taken (user, snapshot schedule) or the filespace is in the wrong state."""


class NotFound(CliRejected):
    """The user, snapshot or schedule does not exist at LucidLink."""


class BadInput(CliRejected):
    """The CLI refused a value (a name, an interval) or the options themselves."""


class OptionsRefused(BadInput):
    """The CLI refused the options themselves (argparse `usage:`): a portal fault."""

    tells_support = True
