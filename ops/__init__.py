"""Operator commands (python -m ops.<name>)."""
