"""Offline stand-in for the get-pip.py that ansible-test downloads to bootstrap its virtualenvs.

ansible-test runs this file with pip's command-line options; Python's bundled ensurepip wheel gives the
new virtualenv a pip, which then installs the exact pip that ansible-test asked for from the package index.
"""

import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null for itself; the machine's pip configuration (index, CA
# bundle) must apply to the real install.
env = {name: value for name, value in os.environ.items() if name != "PIP_CONFIG_FILE"}
options = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", *options], env=env)
