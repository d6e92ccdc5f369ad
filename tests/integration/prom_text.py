"""A strict reader of the Prometheus text exposition format (0.0.4), from
its rules, with Python's standard library only:

- `# HELP name text` and `# TYPE name type` at most once per family, TYPE
  before the family's first sample; other `#` lines are comments;
- a sample is `name{label="value",...} value [timestamp]`, names match
  [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*, label values
  escape only \\\\, \\" and \\n; a family's samples are contiguous;
- a histogram's series are name_bucket (with `le`, cumulative, ending in
  le="+Inf"), name_sum and name_count, with the +Inf bucket equal to _count.

parse(text) returns {"types": {family: type}, "samples": [(name, labels
dict, value)]} or raises ValueError saying which line breaks which rule.
"""

import math
import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def _value(text, lineno):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError("line %d: %r is not a number" % (lineno, text))


def _labels(text, lineno):
    """Parses `a="x",b="y"` (the part between braces); returns (dict, rest)."""
    labels = {}
    i = 0
    while True:
        if text[i] == "}":
            return labels, text[i + 1:]
        m = LABEL_NAME.match(text, i)
        if not m:
            raise ValueError("line %d: bad label name at %r" % (lineno, text[i:]))
        name = m.group(0)
        i = m.end()
        if text[i:i + 2] != '="':
            raise ValueError("line %d: label %s: expected =\"" % (lineno, name))
        i += 2
        value = []
        while text[i] != '"':
            if text[i] == "\\":
                esc = text[i + 1]
                if esc not in '\\"n':
                    raise ValueError("line %d: bad escape \\%s" % (lineno, esc))
                value.append("\n" if esc == "n" else esc)
                i += 2
            else:
                value.append(text[i])
                i += 1
        i += 1
        if name in labels:
            raise ValueError("line %d: label %s twice" % (lineno, name))
        labels[name] = "".join(value)
        if text[i] == ",":
            i += 1
        elif text[i] != "}":
            raise ValueError("line %d: expected , or } after label %s" % (lineno, name))


def _family_of(name, types):
    if name in types:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) in ("histogram", "summary"):
            return name[:-len(suffix)]
    return name


def parse(text):
    if text and not text.endswith("\n"):
        raise ValueError("the last line does not end with a newline")
    types, helps, samples = {}, set(), []
    finished = set()  # families whose samples ended (another family's came)
    current = None
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.fullmatch(name):
                    raise ValueError("line %d: bad metric name %r" % (lineno, name))
                if parts[1] == "HELP":
                    if name in helps:
                        raise ValueError("line %d: second HELP for %s" % (lineno, name))
                    helps.add(name)
                else:
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ValueError("line %d: bad TYPE line" % lineno)
                    if name in types:
                        raise ValueError("line %d: second TYPE for %s" % (lineno, name))
                    if any(_family_of(s[0], {name: parts[3]}) == name for s in samples):
                        raise ValueError("line %d: TYPE for %s after its samples" % (lineno, name))
                    types[name] = parts[3]
            continue
        m = NAME.match(line)
        if not m:
            raise ValueError("line %d: no metric name: %r" % (lineno, line))
        name, rest = m.group(0), line[m.end():]
        labels = {}
        if rest.startswith("{"):
            labels, rest = _labels(rest[1:], lineno)
        fields = rest.split()
        if not rest.startswith(" ") or len(fields) not in (1, 2):
            raise ValueError("line %d: expected ' value [timestamp]': %r" % (lineno, line))
        value = _value(fields[0], lineno)
        family = _family_of(name, types)
        if family != current:
            if family in finished:
                raise ValueError("line %d: samples of %s are not contiguous" % (lineno, family))
            if current is not None:
                finished.add(current)
            current = family
        samples.append((name, labels, value))
    _check_histograms(types, samples)
    return {"types": types, "samples": samples}


def _check_histograms(types, samples):
    for family, kind in types.items():
        if kind != "histogram":
            continue
        series = {}
        for name, labels, value in samples:
            if _family_of(name, types) != family:
                continue
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            s = series.setdefault(key, {"buckets": [], "count": None})
            if name == family + "_bucket":
                if "le" not in labels:
                    raise ValueError("%s: a bucket without le" % family)
                s["buckets"].append((_value(labels["le"], 0), value))
            elif name == family + "_count":
                s["count"] = value
            elif name != family + "_sum":
                raise ValueError("%s: unexpected series %s" % (family, name))
        for key, s in series.items():
            les = [le for le, _ in s["buckets"]]
            counts = [c for _, c in s["buckets"]]
            if not les or les[-1] != math.inf:
                raise ValueError("%s%s: no +Inf bucket" % (family, key))
            if les != sorted(les) or counts != sorted(counts):
                raise ValueError("%s%s: buckets not cumulative in le order" % (family, key))
            if s["count"] != counts[-1]:
                raise ValueError("%s%s: _count %s != +Inf bucket %s"
                                 % (family, key, s["count"], counts[-1]))


def value(parsed, name, **labels):
    """The sum of the samples named `name` whose labels include `labels`."""
    total = 0.0
    for n, ls, v in parsed["samples"]:
        if n == name and all(ls.get(k) == str(want) for k, want in labels.items()):
            total += v
    return total
