"""What every rule stands on: rule metadata, declarative checks, parameters, the pack server."""
