"""A beamtime: new runs processed as they arrive (``scs-nb watch``) into a run table."""
