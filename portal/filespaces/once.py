"""A secret shown once after a redirect (POST-redirect-GET), so a reload never repeats the POST.

The action returns the secret to the POST view, which keeps it encrypted (portal/fields.py) in
the person's session and redirects; the GET page takes it out and shows it. The second GET finds
nothing and says the secret was shown already. Nothing else ever stores it.
"""

from dataclasses import dataclass

from django.http import HttpRequest

from portal.fields import decrypt, encrypt

SESSION_KEY = "filespace_one_time_secret"


@dataclass(frozen=True)
class OneTimeSecret:
    kind: str  # "user" (a filespace user's password) or "root"
    name: str  # the filespace user's name, or "root"
    secret: str


def stash(request: HttpRequest, *, filespace_id: int, kind: str, name: str, secret: str) -> None:
    request.session[SESSION_KEY] = {
        "filespace": filespace_id,
        "kind": kind,
        "name": name,
        "token": encrypt(secret),
    }


def take(request: HttpRequest, *, filespace_id: int) -> OneTimeSecret | None:
    """The stashed secret of this filespace, removed from the session; None when there is none."""
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict) or data.get("filespace") != filespace_id:
        return None
    del request.session[SESSION_KEY]
    return OneTimeSecret(kind=data["kind"], name=data["name"], secret=decrypt(data["token"]))
