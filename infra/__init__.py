"""The platform's Pulumi program, its typed stack settings and the offline preview engine."""
