"""Detection of area-level shutdowns from the stream of results and arrivals."""
