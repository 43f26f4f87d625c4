"""The shared runtime of a corridor node: every service runs on it and delivery lives here once."""
