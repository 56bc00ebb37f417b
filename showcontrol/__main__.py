import sys

from showcontrol.cli import main

sys.exit(main())
