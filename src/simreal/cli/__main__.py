import sys

from simreal.cli import main

sys.exit(main())
