"""``python -m nnscratch``: the command line, as the ``nnscratch`` console script runs it."""
import sys

from nnscratch_entry import main

sys.exit(main())
