"""Shared kernel: value types, clock, domain events, audit log, roles and permissions, errors."""
