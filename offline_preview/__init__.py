"""Offline preview engine: runs a real Pulumi Python program against Pulumi's mock runtime.

``python -m offline_preview STACK`` prints what ``pulumi preview`` would create, with no
Pulumi CLI, no cloud account and no network. See :func:`offline_preview.engine.run_preview`.
"""
