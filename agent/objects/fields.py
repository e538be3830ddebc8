"""Field types of wire objects: each checks and converts one value.

``coerce`` turns a received (JSON) value into the Python value and raises
ValueError with a readable reason; ``to_primitive`` does the reverse.
"""
import datetime
import uuid as uuidlib
from collections.abc import Iterable
from typing import Any


class Field:
    def __init__(self, nullable: bool = False, default: Any = None) -> None:
        self.nullable = nullable
        self.default = default

    def coerce(self, value: Any) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise ValueError('may not be null')
        return self._coerce(value)

    def _coerce(self, value: Any) -> Any:
        return value

    def to_primitive(self, value: Any) -> Any:
        return value


class String(Field):
    def __init__(self, max_length: int = 255, **kw: Any) -> None:
        super().__init__(**kw)
        self.max_length = max_length

    def _coerce(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError('must be a string, got %s' % type(value).__name__)
        if len(value) > self.max_length:
            raise ValueError('longer than %d characters' % self.max_length)
        if '\x00' in value:
            raise ValueError('contains a NUL character')
        try:
            value.encode('utf-8')
        except UnicodeEncodeError as e:
            # a lone surrogate: JSON can carry it, no database or file can
            raise ValueError('is not valid Unicode (lone surrogate at '
                             'position %d)' % e.start) from None
        return value


def printable(value: str) -> str:
    """``value`` if every character of it is printable (no control or
    format characters, no line breaks); else ValueError naming the first
    one that is not."""
    for i, char in enumerate(value):
        if not char.isprintable():
            raise ValueError('contains the non-printable character U+%04X '
                             'at position %d' % (ord(char), i))
    return value


class Text(String):
    """A String of printable text only (what operators read in tables
    and logs: a reason, a description)."""

    def _coerce(self, value: Any) -> Any:
        return printable(super()._coerce(value))


class Enum(String):
    def __init__(self, values: Iterable[str], **kw: Any) -> None:
        super().__init__(**kw)
        self.values = tuple(values)

    def _coerce(self, value: Any) -> Any:
        value = super()._coerce(value)
        if value not in self.values:
            raise ValueError('must be one of %s, got %r'
                             % (', '.join(self.values), value))
        return value


class UUID(Field):
    def _coerce(self, value: Any) -> Any:
        try:
            return str(uuidlib.UUID(str(value)))
        except ValueError:
            raise ValueError('is not a UUID: %r' % (value,)) from None


class Integer(Field):
    kinds: tuple[type[int] | type[float], ...] = (int,)
    kind_name = 'an integer'

    def __init__(self, min: float | None = None, max: float | None = None,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.min, self.max = min, max

    def _coerce(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, self.kinds):
            raise ValueError('must be %s, got %r' % (self.kind_name, value))
        if self.min is not None and value < self.min:
            raise ValueError('must be >= %s' % self.min)
        if self.max is not None and value > self.max:
            raise ValueError('must be <= %s' % self.max)
        return value


class Float(Integer):
    kinds = (int, float)
    kind_name = 'a number'

    def _coerce(self, value: Any) -> Any:
        return float(super()._coerce(value))


class Boolean(Field):
    def _coerce(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise ValueError('must be true or false, got %r' % (value,))
        return value


class DateTime(Field):
    def _coerce(self, value: Any) -> Any:
        if isinstance(value, datetime.datetime):
            return value
        if not isinstance(value, str):
            raise ValueError('must be an ISO 8601 time, got %r' % (value,))
        try:
            return datetime.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError('is not an ISO 8601 time: %r' % value) from None

    def to_primitive(self, value: Any) -> Any:
        return None if value is None else value.isoformat()


class Dict(Field):
    """A mapping of short strings to short strings (metadata, hints)."""

    def __init__(self, value_field: Field | None = None, **kw: Any) -> None:
        kw.setdefault('default', dict)
        super().__init__(**kw)
        self.key_field = String(max_length=255)
        self.value_field = value_field or String(max_length=255)

    def _coerce(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError('must be a mapping, got %s' % type(value).__name__)
        out = {}
        for k, v in value.items():
            try:
                out[self.key_field.coerce(k)] = self.value_field.coerce(v)
            except ValueError as e:
                raise ValueError('[%r] %s' % (k, e)) from None
        return out

    def to_primitive(self, value: Any) -> Any:
        return {k: self.value_field.to_primitive(v) for k, v in value.items()}


class List(Field):
    def __init__(self, item_field: Field, max_items: int = 10000,
                 **kw: Any) -> None:
        kw.setdefault('default', list)
        super().__init__(**kw)
        self.item_field = item_field
        self.max_items = max_items

    def _coerce(self, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise ValueError('must be a list, got %s' % type(value).__name__)
        if len(value) > self.max_items:
            raise ValueError('more than %d items' % self.max_items)
        out = []
        for i, item in enumerate(value):
            try:
                out.append(self.item_field.coerce(item))
            except ValueError as e:
                raise ValueError('[%d] %s' % (i, e)) from None
        return out

    def to_primitive(self, value: Any) -> Any:
        return [self.item_field.to_primitive(v) for v in value]


class Object(Field):
    """A nested wire object, given as an object or as its primitive."""

    def __init__(self, obj_name: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.obj_name = obj_name

    def _coerce(self, value: Any) -> Any:
        from agent.objects import base
        cls = base.registry_get(self.obj_name)
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls.from_primitive(value)
        raise ValueError('must be a %s object' % self.obj_name)

    def to_primitive(self, value: Any) -> Any:
        return None if value is None else value.to_primitive()


class Struct(Field):
    """A mapping with a fixed set of optional keys, each with its own field."""

    def __init__(self, fields: dict[str, Field], **kw: Any) -> None:
        kw.setdefault('default', dict)
        super().__init__(**kw)
        self.fields = fields

    def _coerce(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError('must be a mapping, got %s' % type(value).__name__)
        unknown = set(value) - set(self.fields)
        if unknown:
            raise ValueError('has unknown key(s) %s'
                             % ', '.join(sorted(map(str, unknown))))
        out = {}
        for key, item in value.items():
            try:
                out[key] = self.fields[key].coerce(item)
            except ValueError as e:
                raise ValueError('[%r] %s' % (key, e)) from None
        return out
