"""jsonl_close: two JSON Lines files hold the same records in the same order, numbers within
an absolute tolerance (default 1e-4), everything else (paths, labels, errors, keys) equal.
Usage: jsonl_close.py A B [TOL]; exit 0 when they match, else 1 with the first difference."""
import json
import sys


def diff(a, b, tol, where):
    """The first difference of a and b as text, or None."""
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)):
        if type(a) is not type(b):
            return f"{where}: {a!r} vs {b!r}"
        if isinstance(a, dict):
            if list(a) != list(b):
                return f"{where}: keys {list(a)} vs {list(b)}"
            return next((d for k in a if (d := diff(a[k], b[k], tol, f"{where}.{k}"))), None)
        if isinstance(a, list):
            if len(a) != len(b):
                return f"{where}: {len(a)} vs {len(b)} items"
            return next((d for i, (x, y) in enumerate(zip(a, b))
                         if (d := diff(x, y, tol, f"{where}[{i}]"))), None)
        return None if a == b else f"{where}: {a!r} vs {b!r}"
    if not isinstance(b, (int, float)) or isinstance(b, bool) or abs(a - b) > tol:
        return f"{where}: {a!r} vs {b!r}"
    return None


def main():
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-4
    with open(sys.argv[1]) as fa, open(sys.argv[2]) as fb:
        ra = [json.loads(line) for line in fa]
        rb = [json.loads(line) for line in fb]
    if len(ra) != len(rb):
        print(f"{len(ra)} vs {len(rb)} records")
        return 1
    for i, (a, b) in enumerate(zip(ra, rb)):
        d = diff(a, b, tol, f"record {i + 1}")
        if d:
            print(d)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
