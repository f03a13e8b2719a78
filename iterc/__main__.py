"""`python -m iterc` runs the command line."""
from .cli import main

main()
