"""Write the configuration reference's key tables from the declaration of the keys (daemon/settings/keys.py).

    python tools/config_reference.py           # rewrite the tables in docs/configuration.md
    python tools/config_reference.py --check   # exit 1 when docs/configuration.md differs from the declaration

Only the text between the page's two markers is written; the prose around it is the page's own.
"""

from __future__ import annotations

import sys
from pathlib import Path

from daemon.settings.reference import with_reference

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def main(argv: list[str]) -> int:
    text = REFERENCE.read_text(encoding="utf-8")
    written = with_reference(text)
    if argv[1:] == ["--check"]:
        if written != text:
            print(f"{REFERENCE}: the configuration reference differs from daemon/settings/keys.py; "
                  "run python tools/config_reference.py", file=sys.stderr)
            return 1
        return 0
    if argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    REFERENCE.write_text(written, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
