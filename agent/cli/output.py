"""Plain-text tables and JSON: how hvctl prints what it gets."""
import datetime
import json

from agent import objects


def to_jsonable(value):
    if isinstance(value, objects.HVObject):
        return {k: to_jsonable(v) for k, v in value.as_dict().items()}
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def dumps(value):
    return json.dumps(to_jsonable(value), indent=2, sort_keys=True)


def table(headers, rows):
    """Render rows (lists of values) under headers, columns padded."""
    cells = [[('' if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells])
              for i, h in enumerate(headers)]
    line = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'

    def fmt(values):
        return '| ' + ' | '.join(v.ljust(w) for v, w in
                                 zip(values, widths)) + ' |'
    return '\n'.join([line, fmt(headers), line] + [fmt(r) for r in cells] +
                     [line])


def fields(pairs):
    """A two-column Field/Value table."""
    return table(['Field', 'Value'], pairs)
