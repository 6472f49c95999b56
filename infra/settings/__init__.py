"""Typed models of each section of a stack's ``platform:`` settings; ``infra.config`` is the
edge that validates a whole stack with them."""
