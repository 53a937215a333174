"""`python -m bot` is the same entry point as the `kefu` console script."""

from bot.cli import main

if __name__ == "__main__":
    main()
