"""Onboarding: the pipeline and its steps (ledger, pre-flight, create, outcomes, attestation, poison, App+User,
consent, retention), over the domain's ports."""
