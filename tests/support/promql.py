"""Enough of Prometheus to run promtool's rule unit-test files where promtool is not installed.

It evaluates the PromQL the alert rules use (selectors with =, !=, =~ matchers; rate, increase;
sum, max, min ``by (…)``; histogram_quantile; arithmetic between vectors with the same labels;
comparisons and ``==`` against a number, which filter) over promtool's ``input_series`` notation, steps
the rule group every ``evaluation_interval`` from 0 so ``for:`` holds as it does in Prometheus, and
expands the annotation templates the rules use ($labels.x, $value, humanizeDuration,
humanizePercentage). rate() divides the increase by the time between the first and last samples in
the window, without Prometheus' extrapolation: the test files pick values whose alerts do not
depend on it. Anything else raises, so a rule this cannot evaluate fails loudly, never passes.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

Labels = frozenset[tuple[str, str]]
Vector = dict[Labels, float]
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?(?:e-?\d+)?)|(?P<str>\"[^\"]*\")|(?P<dur>\[\d+[smh]\])"
    r"|(?P<op>==|!=|>=|<=|=~|[-+*/(){},=<>])|(?P<name>[A-Za-z_:][A-Za-z0-9_:]*))"
)
_UNITS = {"s": 1, "m": 60, "h": 3600}


def duration_s(text: str) -> int:
    return sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smh])", text))


def expand_values(text: str) -> list[float | None]:
    """promtool's notation: ``1 2 _ 3``, ``a+bxN`` / ``a-bxN`` (N+1 values), ``axN`` (a, N+1 times)."""
    out: list[float | None] = []
    for item in text.split():
        if item == "_":
            out.append(None)
            continue
        match = re.fullmatch(r"(-?[\d.e]+)(?:([+-])([\d.e]+))?x(\d+)", item)
        if match is None:
            out.append(float(item))
            continue
        start, sign, step, times = match.groups()
        delta = float(step or 0) * (-1 if sign == "-" else 1)
        out.extend(float(start) + delta * i for i in range(int(times) + 1))
    return out


def parse_series(text: str) -> tuple[str, Labels]:
    name, _, rest = text.partition("{")
    pairs = re.findall(r'(\w+)\s*=\s*"([^"]*)"', rest)
    return name.strip(), frozenset([("__name__", name.strip()), *pairs])


@dataclass
class Store:
    series: dict[Labels, list[tuple[int, float]]]

    @classmethod
    def from_test(cls, test: dict[str, Any]) -> "Store":
        step = duration_s(test.get("interval", "1m"))
        series: dict[Labels, list[tuple[int, float]]] = {}
        for item in test["input_series"]:
            _, labels = parse_series(item["series"])
            values = expand_values(item["values"])
            series[labels] = [(i * step, v) for i, v in enumerate(values) if v is not None]
        return cls(series)

    def select(self, name: str, matchers: list[tuple[str, str, str]], t: int, window: int) -> dict[Labels, list]:
        found = {}
        for labels, samples in self.series.items():
            got = dict(labels)
            if got["__name__"] != name or not all(_match(got.get(k, ""), op, v) for k, op, v in matchers):
                continue
            # Instant lookback 5m like Prometheus; a range takes the samples in (t - window, t].
            lo = t - (window or 300)
            picked = (
                [(ts, v) for ts, v in samples if lo < ts <= t]
                if window
                else [s for s in samples if lo < s[0] <= t][-1:]
            )
            if picked:
                found[frozenset(k for k in labels if k[0] != "__name__") if window else labels] = picked
        return found


def _match(value: str, op: str, want: str) -> bool:
    return {
        "=": value == want,
        "!=": value != want,
        "=~": re.fullmatch(want, value) is not None,
    }[op]


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = [next(v for v in m.groups() if v is not None) for m in _TOKEN.finditer(text.strip())]
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.take_any()
        if expected is not None and token != expected:
            raise ValueError(f"expected {expected!r}, got {token!r}")
        return token

    def take_any(self) -> str:
        token = self.peek()
        self.pos += 1
        return token

    # Precedence, lowest first: comparisons, + -, * /.
    def expr(self) -> Callable[[Store, int], Any]:
        left = self.sum_()
        while self.peek() in (">", "<", ">=", "<=", "==", "!="):
            op, right = self.take_any(), self.sum_()
            left = _binary(op, left, right)
        return left

    def sum_(self) -> Callable[[Store, int], Any]:
        left = self.product()
        while self.peek() in ("+", "-"):
            op, right = self.take_any(), self.product()
            left = _binary(op, left, right)
        return left

    def product(self) -> Callable[[Store, int], Any]:
        left = self.atom()
        while self.peek() in ("*", "/"):
            op, right = self.take_any(), self.atom()
            left = _binary(op, left, right)
        return left

    def atom(self) -> Callable[[Store, int], Any]:
        token = self.take_any()
        if token == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if re.fullmatch(r"\d.*", token):
            number = float(token)
            return lambda store, t: number
        if token in ("sum", "max", "min"):
            by: list[str] = []
            if self.peek() == "by":
                self.take()
                by = self.names()
            self.take("(")
            inner = self.expr()
            self.take(")")
            return _aggregate(token, by, inner)
        if token in ("rate", "increase"):
            self.take("(")
            name, matchers = self.selector(self.take_any())
            window = duration_s(self.take_any())
            self.take(")")
            return _rate(token, name, matchers, window)
        if token == "histogram_quantile":
            self.take("(")
            q = float(self.take_any())
            self.take(",")
            inner = self.expr()
            self.take(")")
            return _quantile(q, inner)
        name, matchers = self.selector(token)
        return lambda store, t: {k: v[-1][1] for k, v in store.select(name, matchers, t, 0).items()}

    def names(self) -> list[str]:
        self.take("(")
        out = []
        while self.peek() != ")":
            out.append(self.take_any())
            if self.peek() == ",":
                self.take()
        self.take(")")
        return out

    def selector(self, name: str) -> tuple[str, list[tuple[str, str, str]]]:
        matchers = []
        if self.peek() == "{":
            self.take()
            while self.peek() != "}":
                key, op, value = self.take_any(), self.take_any(), self.take_any().strip('"')
                matchers.append((key, op, value))
                if self.peek() == ",":
                    self.take()
            self.take("}")
        return name, matchers


def _binary(op: str, left: Callable, right: Callable) -> Callable[[Store, int], Any]:
    compare = {">": float.__gt__, "<": float.__lt__, ">=": float.__ge__, "<=": float.__le__, "==": float.__eq__}
    arith = {"+": float.__add__, "-": float.__sub__, "*": float.__mul__, "/": lambda a, b: a / b if b else math.nan}

    def run(store: Store, t: int) -> Any:
        a, b = left(store, t), right(store, t)
        if isinstance(a, dict) and isinstance(b, float):
            if op in compare:  # a filter: keeps the vector's value, as Prometheus does without `bool`
                return {k: v for k, v in a.items() if compare[op](v, b)}
            return {k: arith[op](v, b) for k, v in a.items()}
        if isinstance(a, dict) and isinstance(b, dict) and op in arith:
            strip = _without_name
            rights = {strip(k): v for k, v in b.items()}
            return {strip(k): arith[op](v, rights[strip(k)]) for k, v in a.items() if strip(k) in rights}
        raise ValueError(f"unsupported operands for {op}")

    return run


def _without_name(labels: Labels) -> Labels:
    return frozenset(kv for kv in labels if kv[0] != "__name__")


def _aggregate(how: str, by: list[str], inner: Callable) -> Callable[[Store, int], Vector]:
    picks: dict[str, Callable[[list[float]], float]] = {"sum": math.fsum, "max": max, "min": min}
    pick = picks[how]

    def run(store: Store, t: int) -> Vector:
        groups: dict[Labels, list[float]] = {}
        for labels, value in inner(store, t).items():
            key = frozenset(kv for kv in labels if kv[0] in by)
            groups.setdefault(key, []).append(value)
        return {key: pick(values) for key, values in groups.items()}

    return run


def _rate(how: str, name: str, matchers: list, window: int) -> Callable[[Store, int], Vector]:
    def run(store: Store, t: int) -> Vector:
        out = {}
        for labels, samples in store.select(name, matchers, t, window).items():
            if len(samples) < 2:
                continue
            grown = sum(b - a if b >= a else b for (_, a), (_, b) in pairwise(samples))
            span = samples[-1][0] - samples[0][0]
            out[labels] = grown / span if how == "rate" else grown * window / span
        return out

    return run


def _quantile(q: float, inner: Callable) -> Callable[[Store, int], Vector]:
    def run(store: Store, t: int) -> Vector:
        groups: dict[Labels, list[tuple[float, float]]] = {}
        for labels, value in inner(store, t).items():
            le = dict(labels)["le"]
            key = frozenset(kv for kv in labels if kv[0] != "le")
            groups.setdefault(key, []).append((math.inf if le == "+Inf" else float(le), value))
        out = {}
        for key, buckets in groups.items():
            buckets.sort()
            total = buckets[-1][1]
            if total <= 0:
                continue
            rank, prev_bound, prev_count = q * total, 0.0, 0.0
            for bound, count in buckets:
                if count >= rank:
                    if bound == math.inf:
                        out[key] = prev_bound
                    else:
                        out[key] = prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
                    break
                prev_bound, prev_count = bound, count
        return out

    return run


def evaluate(expr: str) -> Callable[[Store, int], Vector]:
    parser = Parser(expr)
    run = parser.expr()
    if parser.peek():
        raise ValueError(f"cannot evaluate {expr!r} past {parser.peek()!r}")
    return run


def humanize_duration(v: float) -> str:
    if v == 0:
        return "0s"
    if abs(v) >= 1:
        whole = int(abs(v))
        if whole >= 60:
            raise ValueError("minutes and more are not needed by the rules")
        return f"{'-' if v < 0 else ''}{_g4(abs(v))}s"
    prefix = ""
    for p in ("m", "u", "n"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{_g4(v)}{prefix}s"


def _g4(v: float) -> str:
    return f"{v:.4g}"


def render(template: str, labels: dict[str, str], value: float) -> str:
    def one(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        if inner.startswith("$labels."):
            return labels.get(inner.removeprefix("$labels."), "")
        if inner == "$value":
            return _g4(value)
        if inner == "$value | humanizeDuration":
            return humanize_duration(value)
        if inner == "$value | humanizePercentage":
            return f"{_g4(value * 100)}%"
        raise ValueError(f"unsupported template {inner!r}")

    return re.sub(r"\{\{(.*?)\}\}", one, template)


def firing(rule: dict[str, Any], store: Store, eval_time: int, interval: int) -> list[dict[str, Any]]:
    """The alerts of ``rule`` firing at ``eval_time``, stepping the group from 0 like Prometheus."""
    run, hold = evaluate(rule["expr"]), duration_s(rule.get("for", "0s"))
    active_since: dict[Labels, int] = {}
    result: Vector = {}
    for t in range(0, eval_time + 1, interval):
        result = run(store, t)
        active_since = {k: active_since.get(k, t) for k in result}
    alerts = []
    for key, value in result.items():
        if eval_time - active_since[key] < hold:
            continue
        labels = {**dict(_without_name(key)), **rule.get("labels", {})}
        notes = {name: render(text, labels, value) for name, text in rule.get("annotations", {}).items()}
        alerts.append({"exp_labels": labels, "exp_annotations": notes})
    return alerts
