"""Outputs (and later inputs) to the world: one module per protocol library, nothing else imports those libraries."""
