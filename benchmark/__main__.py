"""``python -m avbench`` runs the same CLI as the ``avbench`` console script."""
from avbench.cli import entry

entry()
