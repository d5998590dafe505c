"""Run the command line: `python -m memlab ...`."""

from memlab.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
