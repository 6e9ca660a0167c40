"""revledger's domain layer: events, money, the customer timeline and the event log."""
