"""Adapters to the outside world (Entra, Partner Center, Event Grid, Key Vault, Table storage, queues): thin, one file
each, implementing the Protocols of handlers/domain/ports.py; no policy."""
