"""Upkeep on beat: repair of what drifted (repair), each group's retention (retention), and the sweeper that
ends every record stuck in a non-final state (sweeper)."""
