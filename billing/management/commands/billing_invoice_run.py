from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing import selectors, services


class Command(BaseCommand):
    help = "Make or refresh the draft invoices of a month (idempotent; finalized ones are kept)."

    def add_arguments(self, parser):
        parser.add_argument("month", help="The month, YYYY-MM.")

    def handle(self, *args, month: str, **options):
        try:
            start, _end = selectors.parse_period(month, now=timezone.now())
        except selectors.PeriodError as exc:
            raise CommandError(str(exc)) from None
        result = services.invoice_run(year=start.year, month=start.month)
        self.stdout.write(
            f"{start:%Y-%m}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.finalized_skipped} finalized kept."
        )
        for customer_id, message in result.failed:
            self.stderr.write(f"Customer {customer_id} not invoiced: {message}")
        if result.failed:
            raise CommandError(f"{len(result.failed)} customer(s) could not be invoiced.")
