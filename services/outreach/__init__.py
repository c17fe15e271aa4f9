"""Outreach: the seller-facing API, the plan processor (single writer per seller) and the
plan read model."""
