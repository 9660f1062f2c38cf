"""Who may do what, checked the same way on every path: ownership, membership and authority between
ranks (access), the one gate every write passes (gate), and the per-user rates (rate_limits)."""
