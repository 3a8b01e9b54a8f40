"""What `e2e/node.sh down` must undo in iptables: prints iptables arguments,
one command per line, that delete every rule added since the snapshot
BEFORE (first argument) to chains that existed then, then flush and delete
every chain added since. Rules and chains that were there before are kept."""
import sys


def parse(path):
    """{table: (user chains in order, [(chain, rule text)])} from
    iptables-save; built-in chains (those with a policy) are never listed as
    chains, so they are never flushed or deleted, only rules in them."""
    tables, table = {}, None
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    for line in lines:
        if line.startswith("*"):
            table = line[1:]
            tables[table] = ([], [])
        elif line.startswith(":") and table:
            name, policy = line[1:].split()[:2]
            if policy == "-":
                tables[table][0].append(name)
        elif line.startswith("-A ") and table:
            chain, _, rule = line[3:].partition(" ")
            tables[table][1].append((chain, rule))
    return tables


def undo(before, after):
    for table, (chains, rules) in after.items():
        old_chains, old_rules = before.get(table, ([], []))
        new_chains = [c for c in chains if c not in old_chains]
        remaining = list(old_rules)
        for chain, rule in rules:
            if chain in new_chains:
                continue
            if (chain, rule) in remaining:
                remaining.remove((chain, rule))
            else:
                yield f"-t {table} -D {chain} {rule}"
        for chain in new_chains:
            yield f"-t {table} -F {chain}"
        for chain in new_chains:
            yield f"-t {table} -X {chain}"


if __name__ == "__main__":
    for command in undo(parse(sys.argv[1]), parse(sys.argv[2])):
        print(command)
