"""CrossGuard policy packs for the platform, and the rules they share.

``policies/security`` and ``policies/quality`` are policy pack directories that the Pulumi CLI
runs (``pulumi preview --policy-pack policies/security``). Both serve rules from
``policies/rules``, grouped by service; ``policies/framework`` holds what the rules stand on:
the rule types, the declarative property checks, rule parameters and the pack server.
``policies/config/<stack>.json`` is each stack's policy configuration.
"""
