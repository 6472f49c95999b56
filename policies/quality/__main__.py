"""The platform's quality policy pack: `pulumi preview --policy-pack policies/quality`."""

from pathlib import Path

from policies.framework.pack import main
from policies.framework.rule import Pack

main(Pack.QUALITY, Path(__file__).resolve().parent)
