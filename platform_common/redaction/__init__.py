"""How a credential is recognised inside text: the AI review masks what these rules find, and
the policy packs refuse to see it written into a Kubernetes object."""
