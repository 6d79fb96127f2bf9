"""kaiser's version, for the stats document (`"version": "kaiser-X.Y.Z"`), the start-up line and `uwsgi.version`.

package.json is the one source: it sits three levels up both in the source tree (src/server/python/) and in the
built package (dist/server/python/), and npm always ships it. Read once at import, with minijson (the stdlib json
costs every process memory).
"""
import os

from . import minijson

PACKAGE_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'package.json')
UNKNOWN = '0.0.0'


def read_version(path=PACKAGE_JSON):
    """The `version` of the package.json at `path`, or UNKNOWN when it cannot be read."""
    try:
        with open(path, 'rb') as f:
            version = minijson.loads(f.read()).get('version')
    except (OSError, ValueError, AttributeError):
        return UNKNOWN
    return version if isinstance(version, str) and version else UNKNOWN


VERSION = read_version()
