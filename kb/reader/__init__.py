"""The reader: our own span-extraction model (finds the answer inside a passage), its training and data."""
