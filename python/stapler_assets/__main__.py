"""``python -m stapler_assets compress --offline``: the binary, run with this interpreter as the
project's Python."""

import sys

from . import run


def main():
    try:
        return run(sys.argv[1:])
    except FileNotFoundError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
