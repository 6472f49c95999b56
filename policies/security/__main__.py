"""The platform's security policy pack: `pulumi preview --policy-pack policies/security`."""

from pathlib import Path

from policies.framework.pack import main
from policies.framework.rule import Pack

main(Pack.SECURITY, Path(__file__).resolve().parent)
