"""A local stand-in for the Azure Functions host (Core Tools cannot be installed here).

It indexes the functions that function_app.py registers — the same indexing the real host does — and drives
their queue triggers from Azurite with host.json's queue semantics.
"""
