"""Lightning modules (one per training recipe)."""
