import sys

from threadlint.cli import main

sys.exit(main())
