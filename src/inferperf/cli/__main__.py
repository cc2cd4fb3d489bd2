"""``python -m inferperf.cli``."""

from inferperf.cli.common import main

main()
