"""Adapters to the outside world (SMS gateways, SMTP, CTI, webhooks); they know nothing of the domain."""
