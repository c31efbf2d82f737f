import sys

from cutwatch.cli import main

sys.exit(main())
