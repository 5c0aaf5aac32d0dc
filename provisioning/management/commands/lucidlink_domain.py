"""Show the LucidLink account's domain, or create it once (`--create NAME`)."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from provisioning import lucidlink
from provisioning.domain import domain_create, msp_domain


class Command(BaseCommand):
    help = (
        "Print the LucidLink account's domain, or create it with --create NAME. Exits non-zero "
        "when there is no domain or the API refuses."
    )

    def add_arguments(self, parser):
        parser.add_argument("--create", metavar="NAME", help="create the account's domain")

    def handle(self, *args, create: str | None = None, **options) -> None:
        try:
            if create is None:
                domain = msp_domain()
                self.stdout.write(f"LucidLink domain: {domain.name} (id {domain.id})")
            else:
                domain = domain_create(name=create)
                self.stdout.write(
                    self.style.SUCCESS(f"Created LucidLink domain {domain.name} (id {domain.id}).")
                )
        except lucidlink.Conflict as exc:
            raise CommandError(
                f"LucidLink refused the domain: {exc.message} An account has one domain; run "
                "`python manage.py lucidlink_domain` to see it, or pick another name."
            ) from None
        except lucidlink.Rejected as exc:
            raise CommandError(f"LucidLink refused the request: {exc.message}") from None
        except lucidlink.Unavailable as exc:
            raise CommandError(
                f"LucidLink is unavailable, try again later: {exc.message}"
            ) from None
        except (lucidlink.LucidLinkError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from None
