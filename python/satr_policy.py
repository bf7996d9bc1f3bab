"""``satr_policy``: the exported-policy runner, kept at this path for scripts that use it.

The code lives in the ``satr`` package as ``satr.policy`` (python/pysrc/satr/policy.py);
this file runs that module's source in its own namespace, so that with only numpy
installed (no ``satr`` package, no Rust extension) both uses keep working:

    python python/satr_policy.py POLICY TRANSCRIPT      # replay a satr eval transcript
    from satr_policy import SatrPolicy                  # with python/ on sys.path
"""

import os as _os

_SOURCE = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "pysrc", "satr", "policy.py")
with open(_SOURCE) as _f:
    exec(compile(_f.read(), _SOURCE, "exec"))
