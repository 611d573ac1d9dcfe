# The app image for web, workers and beat (docker-compose.yml). Python 3.11, as on our machines.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# Static files are collected at build time (DEBUG=true only so that no secret is needed here).
RUN DEBUG=true python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app helpdesk \
    && mkdir -p /app/media /app/metrics /app/var \
    && chown -R helpdesk /app/media /app/metrics /app/var
USER helpdesk
EXPOSE 8000
CMD ["gunicorn", "helpdesk.wsgi:application", "-c", "python:helpdesk.gunicorn_config"]
