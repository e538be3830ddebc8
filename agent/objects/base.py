"""Versioned wire objects: what services send each other over RPC.

On the wire an object is ``{"hv_object.name": ..., "hv_object.version":
"X.Y", "hv_object.data": {...}}``. A receiver accepts the same major version
only; a newer minor version may carry fields it does not know, which it drops.
Every field is checked on receipt (``from_primitive``); a bad payload raises
ObjectValidationError naming the object, the field and the reason, before
anything is applied.
"""
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, TypeVar, cast

from agent import exception

_REGISTRY: dict[str, type['HVObject']] = {}

NAME_KEY = 'hv_object.name'
VERSION_KEY = 'hv_object.version'
DATA_KEY = 'hv_object.data'


class FieldType(Protocol):
    """What an object needs of its field types (agent.objects.fields)."""
    default: Any

    def coerce(self, value: Any) -> Any: ...

    def to_primitive(self, value: Any) -> Any: ...


_T = TypeVar('_T', bound=type['HVObject'])


def register(cls: _T) -> _T:
    _REGISTRY[cls.__name__] = cls
    return cls


def registry_get(name: object) -> type['HVObject']:
    try:
        if not isinstance(name, str):
            raise KeyError(name)
        return _REGISTRY[name]
    except KeyError:
        raise exception.ObjectValidationError(
            'unknown object type %r' % (name,)) from None


def _version(text: Any) -> tuple[int, int]:
    try:
        major, minor = text.split('.')
        return int(major), int(minor)
    except (AttributeError, ValueError):
        raise exception.ObjectValidationError(
            'bad object version %r' % (text,)) from None


def is_primitive(value: object) -> bool:
    return isinstance(value, dict) and NAME_KEY in value


class HVObject:
    """Base of every wire object. Subclasses set VERSION and ``fields``."""

    VERSION: ClassVar[str] = '1.0'
    fields: ClassVar[dict[str, FieldType]] = {}

    def __init__(self, **kwargs: Any) -> None:
        unknown = set(kwargs) - set(self.fields)
        if unknown:
            raise exception.ObjectValidationError(
                '%s has no field(s) %s' % (type(self).__name__,
                                           ', '.join(sorted(unknown))))
        for name, field in self.fields.items():
            if name in kwargs:
                value = kwargs[name]
            else:
                value = field.default() if callable(field.default) \
                    else field.default
            setattr(self, name, self._coerce(name, field, value))

    if TYPE_CHECKING:
        # the fields are attributes set from ``fields`` at run time
        def __getattr__(self, name: str) -> Any: ...

    @classmethod
    def _coerce(cls, name: str, field: FieldType, value: Any) -> Any:
        try:
            return field.coerce(value)
        except ValueError as e:
            raise exception.ObjectValidationError(
                '%s.%s %s' % (cls.__name__, name, e)) from None

    def to_primitive(self) -> dict[str, Any]:
        data = {name: (None if getattr(self, name) is None
                       else field.to_primitive(getattr(self, name)))
                for name, field in self.fields.items()}
        return {NAME_KEY: type(self).__name__, VERSION_KEY: self.VERSION,
                DATA_KEY: data}

    @classmethod
    def from_primitive(cls, primitive: Any) -> Self:
        if not is_primitive(primitive):
            raise exception.ObjectValidationError(
                'expected a %s object, got %s' % (cls.__name__,
                                                  type(primitive).__name__))
        name = primitive[NAME_KEY]
        target = registry_get(name)
        if cls is not HVObject and not issubclass(target, cls):
            raise exception.ObjectValidationError(
                'expected a %s object, got %s' % (cls.__name__, name))
        theirs, ours = _version(primitive.get(VERSION_KEY)), \
            _version(target.VERSION)
        if theirs[0] != ours[0]:
            raise exception.ObjectValidationError(
                '%s version %d.%d is incompatible with %s' % (
                    name, theirs[0], theirs[1], target.VERSION))
        data = primitive.get(DATA_KEY)
        if not isinstance(data, dict):
            raise exception.ObjectValidationError('%s has no data' % name)
        if theirs[1] > ours[1]:
            data = {k: v for k, v in data.items() if k in target.fields}
        return cast(Self, target(**data))

    def update(self, **changes: Any) -> None:
        for name, value in changes.items():
            if name not in self.fields:
                raise exception.ObjectValidationError(
                    '%s has no field %s' % (type(self).__name__, name))
            setattr(self, name, self._coerce(name, self.fields[name], value))

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.fields}

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return '%s(%s)' % (type(self).__name__, ', '.join(
            '%s=%r' % kv for kv in self.as_dict().items()))
