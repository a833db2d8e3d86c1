"""`python -m ankigen build …`."""

import sys

from .cli import main

sys.exit(main())
