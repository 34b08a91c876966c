"""`python -m sentiloc` entry point (torchrun launches the CLI this way)."""

from sentiloc.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
