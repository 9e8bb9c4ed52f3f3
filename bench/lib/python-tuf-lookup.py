"""python-tuf's ngclient as the peer of `tufa verify` in bench/client-million.mjs: one refresh and
one look-up, a whole process, printing the target's sha256 (exit 2 when the tag is not found).

    PYTHONPATH=python-tuf:securesystemslib python3 python-tuf-lookup.py METADATA_DIR METADATA_URL TAG

METADATA_DIR holds the trusted root.json (first use) or the cache of an earlier run (warm).
"""

import sys

from tuf.ngclient import Updater

metadata_dir, metadata_url, tag = sys.argv[1:4]
updater = Updater(metadata_dir=metadata_dir, metadata_base_url=metadata_url)
updater.refresh()
info = updater.get_targetinfo(tag)
if info is None:
    sys.exit(2)
print(info.hashes["sha256"])
