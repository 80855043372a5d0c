"""vhuman-nod: the host nods each time a keyword is written to a text file.

Usage::

    python run_avatar.py --driver nod:path=/tmp/cues.txt,keyword=yes
    echo "yes please" >> /tmp/cues.txt        # -> one nod per "yes"
"""

from vhuman_nod.driver import NodDriver

__all__ = ["NodDriver"]
