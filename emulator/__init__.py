"""A local emulator of the services with no local edition: Entra ID, Partner Center and an Event Grid topic.

Served over HTTPS with a CA it generates, with fault injection and inspection endpoints under /_emulator/.
"""
