"""Upkeep on beat: repair and retention (repair), and the sweeper that ends every record stuck in a non-final state (sweeper)."""
