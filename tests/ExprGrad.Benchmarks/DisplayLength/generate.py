#!/usr/bin/env python3
"""Makes table.tsv, the display-length oracle of issue 16: random formulas over the catalogue the `exprgrad` parser
accepts, and for each variable the length of sympy.simplify of the derivative. Run once, by hand (not in CI):

    python3 tests/ExprGrad.Benchmarks/DisplayLength/generate.py [count] [seed] > tests/ExprGrad.Benchmarks/DisplayLength/table.tsv

Needs Debian's python3-sympy. Columns: formula (exprgrad syntax), variable, sympy's length, sympy's simplified
derivative (in the comparable syntax of `comparable` below). Lengths count characters with spaces removed, in the
syntax ExprGrad's infix printer uses: `^` for powers, lower-case function names, `pi` and `e`, `max`/`min`, `abs`.
A formula whose simplification takes more than 20 s is left out (recorded on stderr).
"""
import multiprocessing
import random
import re
import signal
import sys

import sympy as sp

x, y = sp.symbols("x y", real=True)
VARS = {"x": x, "y": y}

# exprgrad name -> sympy meaning (for the functions of one argument the parser knows).
UNARY = {
    "exp": sp.exp, "log": sp.log, "log10": lambda a: sp.log(a, 10), "log2": lambda a: sp.log(a, 2),
    "sqrt": sp.sqrt, "cbrt": sp.cbrt, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "asin": sp.asin,
    "acos": sp.acos, "atan": sp.atan, "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "asinh": sp.asinh,
    "acosh": sp.acosh, "atanh": sp.atanh, "abs": sp.Abs, "sign": sp.sign,
    "sigmoid": lambda a: 1 / (1 + sp.exp(-a)), "relu": lambda a: sp.Max(0, a),
    "softplus": lambda a: sp.log(1 + sp.exp(a)), "square": lambda a: a ** 2,
}
BINARY_FN = {"max": sp.Max, "min": sp.Min, "atan2": sp.atan2}


def leaf(rng):
    r = rng.random()
    if r < 0.62:
        return rng.choice(["x", "x", "y"])
    if r < 0.9:
        return str(rng.randint(1, 5))
    return rng.choice(["0.5", "2.5", "pi", "e", "1.5"])


def formula(rng, depth):
    """A random formula as (exprgrad text, its precedence: 0 sum, 1 product, 2 power/atom)."""
    if depth <= 0 or rng.random() < 0.25:
        return leaf(rng), 3
    r = rng.random()
    if r < 0.38:
        name = rng.choice(list(UNARY))
        a, _ = formula(rng, depth - 1)
        return f"{name}({a})", 3
    if r < 0.45:
        name = rng.choice(list(BINARY_FN))
        a, _ = formula(rng, depth - 1)
        b, _ = formula(rng, depth - 1)
        return f"{name}({a}, {b})", 3
    op = rng.choice(["+", "-", "*", "/", "^", "+", "*"])
    a, pa = formula(rng, depth - 1)
    if op == "^":
        b, pb = (str(rng.randint(2, 4)), 3) if rng.random() < 0.6 else formula(rng, depth - 2)
    else:
        b, pb = formula(rng, depth - 1)
    need = {"+": (0, 1), "-": (0, 1), "*": (1, 2), "/": (1, 2), "^": (3, 3)}[op]
    wrap = lambda s, p, n: s if p >= n else f"({s})"
    prec = {"+": 0, "-": 0, "*": 1, "/": 1, "^": 2}[op]
    return f"{wrap(a, pa, need[0])} {op} {wrap(b, pb, need[1])}", prec


def to_sympy(text):
    names = dict(VARS)
    names.update({k: v for k, v in UNARY.items()})
    names.update(BINARY_FN)
    names["pi"] = sp.pi
    names["e"] = sp.E
    return sp.sympify(text.replace("^", "**"), locals=names, rational=True)


def comparable(expr):
    """sympy's printing in ExprGrad's conventions, spaces removed."""
    s = sp.sstr(expr).replace("**", "^").replace(" ", "")
    s = re.sub(r"\bE\b", "e", s)
    for a, b in [("Abs(", "abs("), ("Max(", "max("), ("Min(", "min(")]:
        s = s.replace(a, b)
    return s


def work(item):
    text, var = item
    def timeout(*_):
        raise TimeoutError
    signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    try:
        d = sp.diff(to_sympy(text), VARS[var])
        s = comparable(sp.simplify(d))
        signal.alarm(0)
        return text, var, s
    except Exception as exc:  # noqa: BLE001 - any failure leaves the row out
        signal.alarm(0)
        return text, var, None


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    rng = random.Random(seed)
    items, seen = [], set()
    while len(seen) < count:
        text, _ = formula(rng, rng.randint(2, 4))
        if text in seen or not ("x" in text or "y" in text):
            continue
        seen.add(text)
        for v in ("x", "y"):
            if re.search(rf"\b{v}\b", text):
                items.append((text, v))
    with multiprocessing.Pool() as pool:
        rows = pool.map(work, items, chunksize=4)
    print("formula\tvariable\tsympy_length\tsympy")
    for text, var, s in rows:
        if s is None:
            print(f"left out: {text} d/d{var}", file=sys.stderr)
            continue
        print(f"{text}\t{var}\t{len(s)}\t{s}")


if __name__ == "__main__":
    main()
