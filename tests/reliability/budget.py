"""How hard the reliability suite pushes: short in `make test`, long under `make soak`."""

from __future__ import annotations

import os

# hypothesis examples per fuzz target: 300 in the normal suite, >= 10,000 in `make soak`.
FUZZ_EXAMPLES = int(os.environ.get("BEHOLDER_FUZZ_EXAMPLES", "300"))
