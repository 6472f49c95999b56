"""Pulumi component resources: one ``pulumi.ComponentResource`` per module."""
