"""python -m agent.cli: hvctl."""
import sys

from agent.cli.dispatch import main

sys.exit(main())
