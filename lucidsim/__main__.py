"""``python -m lucidsim``: run the Service API simulator."""

import sys

from lucidsim.server import main

if __name__ == "__main__":
    sys.exit(main())
