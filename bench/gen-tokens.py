#!/usr/bin/env python3
"""Writes COUNT random tokens in GitHub's format, one a line, as grantd parses them
(src/domain/token.rs): a prefix (default gho_), 30 characters drawn uniformly from base62
(0-9A-Za-z), and the CRC32 (IEEE, as zlib and crc32fast compute it) of those 30 characters in
base62, most significant digit first, left-padded with '0' to 6 characters.

Such tokens are well-formed but, being fresh random draws, never stored: the check endpoint has to
look them up and answer 404. With --bad-checksum the last checksum character is changed, so grantd
can refuse the token from its checksum alone.

    gen-tokens.py COUNT [--prefix gho_] [--bad-checksum] > FILE
    gen-tokens.py --verify < FILE      # exit 1 unless every line has a valid checksum
"""
import argparse
import secrets
import sys
import zlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def checksum(random_part: str) -> str:
    value = zlib.crc32(random_part.encode("ascii"))
    digits = []
    for _ in range(6):
        digits.append(BASE62[value % 62])
        value //= 62
    return "".join(reversed(digits))


def well_formed(token: str) -> bool:
    if len(token) != 40 or token[:4] not in ("ghp_", "gho_", "ghu_"):
        return False
    rest = token[4:]
    if not all(c in BASE62 for c in rest):
        return False
    return checksum(rest[:30]) == rest[30:]


def generate(prefix: str, bad: bool) -> str:
    random_part = "".join(secrets.choice(BASE62) for _ in range(30))
    summed = checksum(random_part)
    if bad:
        last = summed[-1]
        summed = summed[:-1] + BASE62[(BASE62.index(last) + 1 + secrets.randbelow(61)) % 62]
    return prefix + random_part + summed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=0)
    parser.add_argument("--prefix", default="gho_")
    parser.add_argument("--bad-checksum", action="store_true")
    parser.add_argument("--verify", action="store_true")
    args = parser.parse_args()
    if args.verify:
        bad = [line for line in (l.strip() for l in sys.stdin) if line and not well_formed(line)]
        for line in bad[:5]:
            print(f"not well-formed: {line}", file=sys.stderr)
        return 1 if bad else 0
    out = sys.stdout
    for _ in range(args.count):
        out.write(generate(args.prefix, args.bad_checksum) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
