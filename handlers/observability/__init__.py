"""Observability: structured logs, OpenTelemetry instruments and the redaction every log record passes through."""
