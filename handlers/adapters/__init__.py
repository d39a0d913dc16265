"""Adapters to the outside world (Entra, Partner Center, Event Grid), behind the protocols in ports.py."""
