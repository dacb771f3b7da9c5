#!/usr/bin/env python3
"""Copies every example file into docs/protocol.md.

Each example in the document is a fenced block preceded by
`<!-- example: NAME -->`; this replaces the block's contents with
examples/NAME (the test `device_examples` checks that they are equal).
Run after regenerating the vectors: python3 sync_docs.py
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(HERE, "..", "..", "..", "..", "docs", "protocol.md")
BLOCK = re.compile(r"(<!-- example: (?P<name>[^ ]+) -->\n```[a-z]*\n)(?P<body>.*?)(\n```)", re.S)


def main():
    with open(DOC, encoding="utf-8") as f:
        doc = f.read()

    def replace(m):
        with open(os.path.join(HERE, "examples", m.group("name")), encoding="utf-8") as f:
            body = f.read().rstrip("\n")
        return m.group(1) + body + m.group(4)

    new = BLOCK.sub(replace, doc)
    if new != doc:
        with open(DOC, "w", encoding="utf-8") as f:
            f.write(new)
        print("docs/protocol.md updated")
    else:
        print("docs/protocol.md already matches")


if __name__ == "__main__":
    main()
