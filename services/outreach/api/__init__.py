"""The seller-facing HTTP API (SPEC section 7)."""
