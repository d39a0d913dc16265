"""A first-run check of a deployment (python -m ops.doctor): sign-in, settings, storage, vaults, topic, Partner
Center, roles; each problem said in words an operator acts on."""
