"""The known upstream warnings a process of ours filters where it starts: notices meant for this project's
maintainers (a dependency deprecating something), not for the operator reading its output."""
from __future__ import annotations

import warnings


def filter_upstream_warnings() -> None:
    """Ignore, by category and module or message, exactly the upstream warnings below, and nothing else."""
    from cryptography.utils import CryptographyDeprecationWarning

    # dnspython (which eventlet imports for its green DNS) still registers DSA keys, which cryptography
    # deprecates: printed once per key class, twice over, before the process says anything of its own.
    warnings.filterwarnings("ignore", message="DSA is deprecated", category=CryptographyDeprecationWarning,
                            module=r"dns\.dnssecalgs\.dsa")
    # eventlet says on import that it is in bugfix mode; it is attributed to whichever module imports it,
    # so it is matched by its text (its class, EventletDeprecationWarning, exists only once it is imported).
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated", category=Warning)
