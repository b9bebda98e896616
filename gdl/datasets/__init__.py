"""Data that loads without internet, and generators.

Every loader for real data names the package or extra to install when it is
missing; nothing here downloads at run time.
"""

from .mnist import load_mnist

__all__ = ["load_mnist"]
