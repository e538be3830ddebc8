"""The text exposition format (0.0.4), with a fast path for guest series.

prometheus_client formats every sample on its own: it validates and
escapes each label name and value, so 200 guests with ~23 series each cost
tens of milliseconds. A ``GuestFamily`` holds rows whose guest labels
(``uuid``, ``name``, ``project``) were escaped once per guest
(``GuestLabels``) and renders them directly; every other family goes
through prometheus_client's own ``generate_latest``. ``GuestFamily`` still
offers ``samples`` so the registry's readers (tests, get_sample_value) work.
"""
import prometheus_client as prom
from prometheus_client import core
from prometheus_client import samples as prom_samples
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = prom.CONTENT_TYPE_LATEST


def escape(value):
    return value.replace('\\', r'\\').replace('\n', r'\n').replace('"', r'\"')


class GuestLabels:
    """One guest's labels, and the same rendered for the exposition."""
    __slots__ = ('labels', 'text')

    def __init__(self, uuid, name, project):
        self.labels = {'uuid': uuid, 'name': name, 'project': project}
        self.text = 'uuid="%s",name="%s",project="%s"' % (
            escape(uuid), escape(name), escape(project))


class GuestFamily(core.Metric):
    """A gauge or counter family of per-guest series, with at most one
    label (``extra``) besides the guest's."""

    def __init__(self, name, documentation, typ, extra=None):
        super().__init__(name, documentation, typ)
        self.extra = extra
        self.rows = []      # (GuestLabels, extra label value, value)

    def add(self, guest, value, extra_value=None):
        self.rows.append((guest, extra_value, value))

    @property
    def sample_name(self):
        return self.name + '_total' if self.type == 'counter' else self.name

    @property
    def samples(self):
        name, extra = self.sample_name, self.extra
        return [prom_samples.Sample(
            name, dict(g.labels, **{extra: e}) if extra else g.labels, v)
            for g, e, v in self.rows]

    @samples.setter
    def samples(self, _value):
        """core.Metric.__init__ sets an empty list; the rows stand in."""

    def render(self):
        name = self.sample_name
        out = ['# HELP %s %s\n# TYPE %s %s\n' % (
            name, self.documentation.replace('\\', r'\\').replace(
                '\n', r'\n'), name, self.type)]
        if self.extra:
            fmt = '%s{%%s,%s="%%s"} %%s\n' % (name, self.extra)
            out += [fmt % (g.text, escape(e), floatToGoString(v))
                    for g, e, v in self.rows]
        else:
            fmt = '%s{%%s} %%s\n' % name
            out += [fmt % (g.text, floatToGoString(v))
                    for g, _e, v in self.rows]
        return ''.join(out)


class _One:
    def __init__(self, family):
        self.family = family

    def collect(self):
        return [self.family]


def render(registry):
    """The exposition of ``registry`` as bytes."""
    parts = []
    for family in registry.collect():
        if isinstance(family, GuestFamily):
            parts.append(family.render().encode())
        else:
            parts.append(prom.generate_latest(_One(family)))
    return b''.join(parts)
