"""Create an MSP API key for a staff member and print it once."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portal.apikeys.services import apikey_create


class Command(BaseCommand):
    help = "Create an MSP API key (reaches every customer) for an active staff member."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", required=True, help="Email of the staff member.")
        parser.add_argument("--name", default="Command line key", help="What the key is for.")

    def handle(self, *args, email: str, name: str, **options) -> None:
        user = get_user_model().objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No user has the email {email}.")
        if not (user.is_active and user.is_staff):
            raise CommandError(f"{email} is not active staff; MSP keys belong to staff.")
        try:
            key, raw = apikey_create(name=name, created_by=user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(
            f"Created MSP key {key.prefix} ({key.name}). It is shown once; store it now."
        )
        self.stdout.write(raw)
