"""Complex numbers as interleaved (re, im) pairs (filled in by a later change)."""
