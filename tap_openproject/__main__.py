"""`python -m tap_openproject`."""

from tap_openproject.cli import main

if __name__ == "__main__":
    main()
