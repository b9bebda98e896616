"""Small inputs for examples and tests: what every layer's ``example()`` builds on.

Not part of any domain's API: fixtures live here so that tests, examples and users share one copy.
"""

from __future__ import annotations

__all__: list[str] = []
