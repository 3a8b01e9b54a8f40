"""`down` undoes exactly what the node added to iptables: run by `make unit`."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from iptables_diff import parse, undo  # noqa: E402

BEFORE = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A DOCKER-USER -j RETURN
COMMIT
"""

AFTER = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:DOCKER-USER - [0:0]
:KUBE-ROUTER-FORWARD - [0:0]
-A FORWARD -j KUBE-ROUTER-FORWARD
-A FORWARD -j DOCKER-USER
-A FORWARD -m comment --comment "kube-router netpol" -j ACCEPT
-A DOCKER-USER -j RETURN
-A KUBE-ROUTER-FORWARD -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
-A PREROUTING -j KUBE-SERVICES
COMMIT
"""


class Undo(unittest.TestCase):
    def commands(self, before, after):
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for name, text in (("before", before), ("after", after)):
                paths.append(os.path.join(d, name))
                with open(paths[-1], "w", encoding="utf-8") as f:
                    f.write(text)
            return list(undo(parse(paths[0]), parse(paths[1])))

    def test_removes_added_rules_then_added_chains_and_keeps_the_rest(self):
        self.assertEqual(
            self.commands(BEFORE, AFTER),
            [
                "-t filter -D FORWARD -j KUBE-ROUTER-FORWARD",
                '-t filter -D FORWARD -m comment --comment "kube-router netpol" -j ACCEPT',
                "-t filter -F KUBE-ROUTER-FORWARD",
                "-t filter -X KUBE-ROUTER-FORWARD",
                "-t nat -D PREROUTING -j KUBE-SERVICES",
                "-t nat -F KUBE-SERVICES",
                "-t nat -X KUBE-SERVICES",
            ],
        )

    def test_nothing_added_means_nothing_to_undo(self):
        self.assertEqual(self.commands(BEFORE, BEFORE), [])


if __name__ == "__main__":
    unittest.main()
