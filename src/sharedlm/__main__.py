"""``python -m sharedlm`` runs the command-line interface."""

import sys

from sharedlm._cli import main

sys.exit(main())
