"""Database helpers shared by billing reads."""

from django.db import models


class EpochSeconds(models.Func):
    """A timestamp as whole seconds since the Unix epoch, computed by the database.

    Reading millions of sample slots as integers skips building a datetime per row.
    """

    output_field = models.BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS bigint)"
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            # julianday() rather than strftime('%s'): a literal %s would be taken for a parameter.
            compiler,
            connection,
            template="CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400) AS integer)",
        )
