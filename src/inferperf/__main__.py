"""``python -m inferperf``."""

from inferperf.cli import main

main()
