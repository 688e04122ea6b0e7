"""Each built-in platform plugin collecting the largest estate its emulator serves here.

Runs every ``bench/platforms/<vendor>_<type>.py`` (or those named on the command line)
and prints one JSON line per plugin: resources, seconds, resources/s, and the baseline
each compares against in the same run (the platform's client library reading the same
estate alone), with the ratio. The emulators are the tests' (``tests/emulators``).

    python bench/providers.py                 # all of them
    python bench/providers.py aws_aws         # one
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import traceback
from pathlib import Path

PLATFORMS = Path(__file__).resolve().parent / "platforms"
sys.path.insert(0, str(PLATFORMS))  # their shared helpers (_child.py)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="bench/platforms modules (default: all)")
    args = parser.parse_args()
    known = sorted(path.stem for path in PLATFORMS.glob("*.py") if not path.stem.startswith("_"))
    unknown = sorted(set(args.names) - set(known))
    if unknown:
        parser.error(
            f"no such platform benchmark: {', '.join(unknown)} (known: {', '.join(known)})"
        )
    failed = 0
    for name in args.names or known:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", PLATFORMS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            figures = module.run()
        except Exception:  # one platform failing must not hide the others' figures
            failed += 1
            traceback.print_exc()
            print(json.dumps({"bench": f"providers/{name}", "error": "failed; see stderr"}))
            continue
        print(json.dumps({"bench": f"providers/{name}", **figures}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
