"""Pure, vectorised normalizers: each takes a pandas Series of raw strings and returns values plus a validity mask."""
