"""What the program and its tools share, and nothing else: facts about AWS and pulumi-aws,
Pulumi's wire values, and how a credential is recognised (by name and by shape).

A leaf: it imports none of ``infra``, ``components``, ``offline_preview``, ``platformctl`` or
``policies``, so each of them may import it without a cycle, and the offline engine can run
another project's program (which may have its own ``infra``) in-process.
"""
