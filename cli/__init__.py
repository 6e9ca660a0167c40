"""The `revledger` command line: a thin skin over ledger/ and projections/."""
