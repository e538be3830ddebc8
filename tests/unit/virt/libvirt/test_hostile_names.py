"""Hostile instance names and metadata never inject anything into what the
libvirt driver writes: the domain XML (designer + config, parsed back with
lxml, a parser other than the one that wrote it) and the config drive's
meta_data.json (read back from the ISO)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import hostile
from tests.fixtures import guest_image
from virt import driver
from virt.libvirt import config
from virt.libvirt import configdrive
from virt.libvirt import designer

etree = pytest.importorskip('lxml.etree', reason='lxml (test extra) needed')

UUID = '6f2b7e1c-3c1e-4d6a-9d5b-2d1f0c8a9e11'
NS = {'h': config.NS}
PARSER = etree.XMLParser(resolve_entities=False, no_network=True,
                         load_dtd=False, huge_tree=False)


def spec(**kw):
    values = dict(uuid=UUID, name='web-1', vcpus=1, memory_mb=256,
                  root_gb=1, flavor_name='m1.tiny', user_id='alice',
                  project_id='proj-1')
    values.update(kw)
    return driver.GuestSpec(**values)


def domain_xml(s):
    return designer.domain_for(
        s, virt_type='qemu', disk_path='/var/lib/hvagent/%s/disk' % UUID,
        console_log_path='/var/lib/hvagent/%s/console.log' % UUID,
        config_drive_path='/var/lib/hvagent/%s/disk.config' % UUID
    ).to_xml()


def shape(root):
    """Every element's path and attribute names: what an injection would
    change."""
    out = []
    for el in root.iter():
        assert isinstance(el.tag, str), 'comment or PI %r injected' % el
        path = root.getroottree().getpath(el)
        out.append((path, el.tag, tuple(sorted(el.attrib))))
    return out


REFERENCE = shape(etree.fromstring(domain_xml(spec()).encode(),
                                   PARSER))


def expected(text):
    """What the metadata must hold: the text as given, except characters
    XML 1.0 cannot carry at all, which become U+FFFD."""
    return config.NON_XML_CHARS.sub('\ufffd', text)


def test_hostile_names_round_trip_as_text_in_the_domain_xml():
    tried = []

    @settings(max_examples=1200, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(name=hostile.hostile_text(), flavor=hostile.hostile_text(),
           user=hostile.hostile_text(), project=hostile.hostile_text())
    def case(name, flavor, user, project):
        tried.append(name)
        text = domain_xml(spec(name=name, flavor_name=flavor, user_id=user,
                               project_id=project))
        root = etree.fromstring(text.encode(), PARSER)
        assert root.getroottree().docinfo.internalDTD is None
        assert shape(root) == REFERENCE
        meta = root.find('metadata/h:instance', NS)
        assert meta.findtext('h:name', namespaces=NS) == expected(name)
        assert meta.find('h:flavor', NS).get('name') == expected(flavor)
        assert meta.find('h:owner/h:user', NS).get('id') == expected(user)
        assert meta.find('h:owner/h:project', NS).get('id') == \
            expected(project)
        # and the driver's own reader (ElementTree) agrees
        assert config.Metadata.from_xml(
            etree.tostring(meta)).display_name == expected(name)

    case()
    print('\nhostile names rendered as domain XML: %d cases, 0 failed'
          % len(tried))
    assert len(tried) >= 1000


@pytest.mark.parametrize('name', ['a\rb', '\r\n', 'x\r', '\r'])
def test_carriage_returns_survive_the_xml_round_trip(name):
    # a raw CR in element text is read back as LF by every XML parser;
    # it must be written as a character reference
    root = etree.fromstring(domain_xml(spec(name=name)).encode(), PARSER)
    assert root.findtext('metadata/h:instance/h:name',
                         namespaces=NS) == name


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow,
                                 HealthCheck.function_scoped_fixture])
@given(name=hostile.hostile_text(),
       meta=st.dictionaries(hostile.hostile_text(), hostile.hostile_text(),
                            max_size=4))
def test_hostile_metadata_round_trips_in_the_config_drive(tmp_path, name,
                                                          meta):
    path = str(tmp_path / 'disk.config')
    try:
        configdrive.build(path, uuid=UUID, name=name, meta=meta)
    except UnicodeEncodeError:
        # lone surrogates never get here: String fields refuse them
        assert any(config.NON_XML_CHARS.search(t) and
                   not _encodable(t) for t in [name, *meta, *meta.values()])
        return
    data = guest_image.read_config_drive_meta(path)
    assert data['name'] == name and data['meta'] == meta
    assert set(data['hostname']) <= set('abcdefghijklmnopqrstuvwxyz'
                                        '0123456789-')
    assert len(data['hostname']) <= 63


def _encodable(text):
    try:
        text.encode('utf-8')
        return True
    except UnicodeEncodeError:
        return False
