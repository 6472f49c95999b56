"""AI change review: an advisory second opinion at the release gates.

The reviewer may only add friction (a human approval); it never approves, and it never
overrides a policy, the protected-resource gate or the metrics analysis. See
docs/releases/ai-review.md for what is sent and what never is.
"""
