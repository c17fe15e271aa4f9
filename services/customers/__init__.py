"""Customers: per seller-customer relationships and profiles, segments and automated triggers."""
