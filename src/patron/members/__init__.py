"""S1 member registry: members, profiles, tags, consent, stores, staff, transactions, import/export."""
