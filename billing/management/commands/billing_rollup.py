from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError

from billing import services

MAX_DAYS = 400


class Command(BaseCommand):
    help = "Recompute the daily usage rollups of a range of UTC days from the raw samples."

    def add_arguments(self, parser):
        parser.add_argument("first", help="First day, YYYY-MM-DD.")
        parser.add_argument("last", nargs="?", help="Last day (inclusive); default: first.")

    def handle(self, *args, first: str, last: str | None, **options):
        try:
            start = date.fromisoformat(first)
            end = date.fromisoformat(last) if last else start
        except ValueError:
            raise CommandError("Days are written YYYY-MM-DD, e.g. 2026-06-01.") from None
        if end < start:
            raise CommandError("The last day comes before the first.")
        if (end - start).days >= MAX_DAYS:
            raise CommandError(f"At most {MAX_DAYS} days at a time.")
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        written = services.usage_rollup_days(days=days)
        self.stdout.write(f"Recomputed {len(days)} day(s): {written} rollup row(s).")
