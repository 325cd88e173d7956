"""Matrix and tensor products, B-splines (filled in by a later change)."""
