"""Which packages the wheel carries; everything else is in pyproject.toml.

``CUTWATCH_DIST=probe`` builds the volunteer's wheel: the core and ``cutwatch.probes`` only, so a
Raspberry Pi carries no service, detector, lab or demo code. Without it, the wheel carries all
of ``cutwatch``. setuptools cannot choose packages by a variable in pyproject.toml, hence this
file.
"""

import os

from setuptools import find_packages, setup

SERVER_SIDE = ("cutwatch.api", "cutwatch.detectors")

DIST = os.environ.get("CUTWATCH_DIST", "full")
if DIST not in ("full", "probe"):
    raise SystemExit(f"CUTWATCH_DIST={DIST!r}: use 'probe' or 'full'")

packages = find_packages(include=["cutwatch", "cutwatch.*"])
if DIST == "probe":
    packages = [name for name in packages if not name.startswith(SERVER_SIDE)]

setup(
    packages=packages,
    # Data files are the globs of [tool.setuptools.package-data], never "whatever an earlier
    # build listed" (a stale egg-info of the full build would carry the service into the probe's).
    include_package_data=False,
    # Each variant builds in its own folder: bdist_wheel packs all of build/lib, stale files too.
    options={"build": {"build_base": f"build/{DIST}"}},
)
