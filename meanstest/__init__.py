"""meanstest — verification and means-test computation for social assistance.

`meanstest.assess(bundle_or_tables, policies)` returns an `Assessment` of Arrow tables.
"""

from meanstest.pipeline import Assessment, assess

__all__ = ["Assessment", "assess"]
__version__ = "0.1.0"
