"""API assembly: authentication by API key with scopes, idempotency, error mapping, versioning."""
