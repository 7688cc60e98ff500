"""Patron: membership, loyalty and customer-care platform."""
