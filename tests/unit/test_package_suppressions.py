"""Every lintian override and rpmlint filter of the packages carries its
reason: a comment directly above it (a run of suppressions shares the
comment above the run; a blank line ends it). Whether each one is still
needed is checked against the real tools in
tests/functional/test_packages.py."""
import pathlib
import re
import tomllib

import pytest

PACKAGING = pathlib.Path(__file__).resolve().parents[2] / 'tools/packaging'
OVERRIDES = sorted((PACKAGING / 'lintian-overrides').iterdir())


def unjustified(lines, is_entry):
    """The entries (per is_entry) with no comment above them."""
    bad, justified = [], False
    for line in lines:
        line = line.strip()
        if line.startswith('#'):
            justified = bool(line.lstrip('#').strip())
        elif not line:
            justified = False
        elif is_entry(line) and not justified:
            bad.append(line)
    return bad


def test_there_is_an_override_file_per_package():
    assert [p.name for p in OVERRIDES] == [
        'hvagent-common', 'hvagent-compute', 'hvagent-controller']


@pytest.mark.parametrize('path', OVERRIDES, ids=lambda p: p.name)
def test_lintian_overrides_justified(path):
    lines = path.read_text().splitlines()
    entries = [x for x in lines if x.strip() and not x.startswith('#')]
    assert entries
    for entry in entries:     # only this package's tags, in lintian's syntax
        assert re.match(rf'{path.name}: [a-z0-9][a-z0-9.+-]+( |$)', entry), entry
    assert unjustified(lines, lambda x: True) == []


def test_rpmlint_filters_justified():
    text = (PACKAGING / 'rpmlint.toml').read_text()
    filters = tomllib.loads(text)['Filters']
    assert filters
    for f in filters:
        re.compile(f)
        assert f.startswith('^hvagent-'), f     # never a blanket filter
    block = text[text.index('Filters = ['):].splitlines()[1:-1]
    assert unjustified(block, lambda x: x.startswith("'")) == []
    assert sum(x.strip().startswith("'") for x in block) == len(filters)


def test_unjustified_is_detected():
    assert unjustified(['# why', 'a', 'b', '', 'c', '#', 'd'],
                       lambda x: True) == ['c', 'd']
