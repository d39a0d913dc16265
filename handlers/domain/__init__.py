"""The domain: the request, its failures and events, the ledger entry, the timing model, countries and text rules,
Partner Center's payloads and the ports the rest of the app needs. Imports nothing of ours outside itself."""
