"""The platform's quality policy pack: `pulumi preview --policy-pack policies/quality`."""

from pathlib import Path

from policies.framework.pack import analyzer, pack_version, serve
from policies.framework.rule import Pack
from policies.rules import CATALOGUE, rules_for

PACK = Pack.QUALITY
HERE = Path(__file__).resolve().parent

serve(
    analyzer(
        PACK,
        rules_for(PACK),
        CATALOGUE,
        name=f"platform-{PACK}",
        version=pack_version(HERE),
    )
)
