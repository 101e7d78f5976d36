#!/usr/bin/env python3
"""Appends one JSON object to a JSON-lines file: bench/run's way of recording a figure.

    jsonl.py FILE key=value ... [key:=RAW_JSON ...] [--merge RAW_JSON_OBJECT]

`key=value` stores a number when value parses as one, null when it is empty, else a string; `key:=json` stores parsed
JSON; --merge adds every field of a JSON object (a wrk RESULT line, say).
"""
import json
import sys


def value_of(text: str):
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main() -> None:
    path, *args = sys.argv[1:]
    record = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--merge":
            record.update(json.loads(args[i + 1]))
            i += 2
            continue
        if ":=" in arg and arg.index(":=") < arg.index("=") + 1:
            key, raw = arg.split(":=", 1)
            record[key] = json.loads(raw)
        else:
            key, raw = arg.split("=", 1)
            record[key] = value_of(raw)
        i += 1
    with open(path, "a") as f:
        f.write(json.dumps(record, sort_keys=False) + "\n")


if __name__ == "__main__":
    main()
