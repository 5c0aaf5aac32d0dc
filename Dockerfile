# One image for web, worker and beat (and the simulator in demos).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 VAR_DIR=/app/var
WORKDIR /app

RUN useradd --create-home --uid 1000 portal
COPY pyproject.toml README.md ./
COPY portal ./portal
COPY provisioning ./provisioning
COPY billing ./billing
COPY lucidsim ./lucidsim
RUN pip install .
COPY . .
# collectstatic needs settings to load; these throwaway values never reach a running container.
RUN DEBUG=false SECRET_KEY=collectstatic-only FIELD_ENCRYPTION_KEYS=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \
    python manage.py collectstatic --noinput \
 && mkdir -p /app/var && chown -R portal /app/var
USER portal

EXPOSE 8000
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
