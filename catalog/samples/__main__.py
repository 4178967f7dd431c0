import sys

from catalog.samples import build_samples

print(f"sample scenes catalog: {build_samples()}")
sys.exit(0)
