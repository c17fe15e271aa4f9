"""Operator tooling that spans the services: dead letters (list, show, re-drive)."""
