"""Typed failures of the LucidLink Service API client.

`Unavailable` means "try again later" (transport, timeout, 429, 5xx, an unreadable answer);
`Rejected` means "retrying the same request cannot help" (any other 4xx). Messages never carry
credentials: they are built from the operation, the status and the API's own `message`.
"""

from __future__ import annotations


class LucidLinkError(Exception):
    """Base of every error the client raises; `message` is safe to show to staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self):
        # Keyword-only fields (status, retry_after) survive pickling, e.g. across Celery's pool.
        return (_restore, (type(self), dict(self.__dict__)))


def _restore(cls: type[LucidLinkError], state: dict) -> LucidLinkError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class Unavailable(LucidLinkError):
    """Transport failure, timeout, 429 or 5xx: the same request may succeed later."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, "
            f"retry_after={self.retry_after!r})"
        )


class MalformedResponse(Unavailable):
    """The API answered something this client cannot read (bad JSON or a wrong shape)."""


class Rejected(LucidLinkError):
    """A 4xx other than 429: `message` is the API's own text, `status` its HTTP status."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class NotFound(Rejected):
    """404: the domain or filespace does not exist (or no longer does)."""


class Conflict(Rejected):
    """409: a name is taken, the account already has a domain, or the state forbids the call."""


class Unprocessable(Rejected):
    """422: for example filespace creation is disabled in the selected region."""


class AuthenticationFailed(Rejected):
    """The token endpoint refused the credentials, or the API kept answering 401.

    Raised after at most one fresh token per call: a second 401 means the credentials or the
    account are wrong, which a retry cannot fix, so it is a `Rejected` and never retried.
    """
