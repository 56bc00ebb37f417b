"""What the operator sees in a terminal."""
