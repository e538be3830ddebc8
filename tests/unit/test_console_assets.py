"""The console pages (agent/console/static/) as the proxy serves them under
its Content-Security-Policy (``default-src 'self'``): every file a page or
module loads is a /static/ path that exists, here or in vendor/ (fetched by
tools/fetch-console-assets: those checks skip when it has not run), no
inline script, no HTML built from text (an instance's name is the
tenant's).
"""
import html.parser
import pathlib
import re
import urllib.parse

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
STATIC = REPO / 'agent' / 'console' / 'static'
VENDOR = STATIC / 'vendor'
FETCH = REPO / 'tools' / 'fetch-console-assets'
PAGES = {'serial.html': 'serial.js', 'vnc.html': 'vnc.js'}
#: our own scripts (vendor/ is the libraries' business)
OWN_JS = ('console-page.js', 'serial.js', 'vnc.js')
#: the static module specifiers of a script: import/export ... from '...',
#: import '...', import('...')
IMPORT = re.compile(
    r'''(?:\b(?:import|export)\s[^;'"`]*?\bfrom\s*|\bimport\s*\(?\s*)'''
    r'''['"]([^'"]+)['"]''')
ELEMENT_ID = re.compile(r'''(?:getElementById|byId)\(\s*['"]([\w-]+)['"]''')
SKIP_VENDOR = 'vendor/ not fetched: run tools/fetch-console-assets'


class Page(html.parser.HTMLParser):
    """What a page loads (attributes naming URLs), its scripts, the ids of
    its elements, and what CSP would refuse to run."""

    def __init__(self, text):
        super().__init__()
        self.urls = []
        self.scripts = []      # [attrs, body]
        self.ids = set()
        self.inline = []
        self._in_script = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if 'id' in attrs:
            self.ids.add(attrs['id'])
        for name, value in attrs.items():
            if name.startswith('on'):
                self.inline.append('%s %s= handler' % (tag, name))
            if name in ('src', 'href') and value is not None:
                self.urls.append(value)
                if value.strip().lower().startswith('javascript:'):
                    self.inline.append('%s %s=javascript:' % (tag, name))
        if tag == 'style':
            self.inline.append('<style> element (use console.css)')
        if tag == 'script':
            self._in_script = [attrs, '']
            self.scripts.append(self._in_script)

    def handle_data(self, data):
        if self._in_script is not None:
            self._in_script[1] += data

    def handle_endtag(self, tag):
        if tag == 'script':
            self._in_script = None


def page(name):
    return Page((STATIC / name).read_text())


def served(url):
    """The file under static/ that a /static/ URL names, or None for a URL
    the proxy does not serve from there."""
    path = urllib.parse.urlsplit(url).path
    if not path.startswith('/static/'):
        return None
    return STATIC / urllib.parse.unquote(path[len('/static/'):])


def imports(url):
    """The URLs a script served at url imports, resolved as a browser does
    (relative to the script's own URL)."""
    text = served(url).read_text()
    return [urllib.parse.urljoin(url, spec) for spec in IMPORT.findall(text)]


def module_graph(start):
    """Every URL reachable by static imports from start: {url: importer}."""
    seen = {start: None}
    todo = [start]
    while todo:
        url = todo.pop()
        target = served(url)
        if target is None or not target.is_file():
            continue
        for dep in imports(url):
            if dep not in seen:
                seen[dep] = url
                todo.append(dep)
    return seen


def vendor_fetched():
    return (VENDOR / 'VERSIONS').is_file()


@pytest.mark.parametrize('name', sorted(PAGES))
def test_pages_load_only_static_paths(name):
    urls = page(name).urls + [
        url for url in module_graph('/static/' + PAGES[name])
        if not served(url) or not served(url).is_relative_to(VENDOR)]
    outside = [u for u in urls if served(u) is None]
    assert not outside, '%s loads from outside /static/: %s' % (name, outside)
    own = [u for u in urls if not served(u).is_relative_to(VENDOR)]
    missing = [u for u in own if not served(u).is_file()]
    assert not missing, '%s names files that do not exist: %s' % (name, missing)


@pytest.mark.parametrize('name', sorted(PAGES))
def test_pages_vendor_files_exist(name):
    if not vendor_fetched():
        pytest.skip(SKIP_VENDOR)
    graph = module_graph('/static/' + PAGES[name])
    wanted = set(page(name).urls) | set(graph)
    missing = ['%s (from %s)' % (u, graph.get(u) or name)
               for u in sorted(wanted)
               if served(u) is None or not served(u).is_file()]
    assert not missing, 'not served under /static/: %s' % missing


def test_vnc_reaches_novnc_and_its_pako():
    """noVNC's core/ imports ../vendor/pako/: the layout under
    /static/vendor/novnc/ keeps those relative imports working."""
    if not vendor_fetched():
        pytest.skip(SKIP_VENDOR)
    graph = module_graph('/static/vnc.js')
    assert '/static/vendor/novnc/core/rfb.js' in graph
    assert any(u.startswith('/static/vendor/novnc/vendor/pako/')
               for u in graph), sorted(graph)


@pytest.mark.parametrize('name', sorted(PAGES))
def test_pages_have_no_inline_scripts(name):
    p = page(name)
    assert p.scripts, '%s loads no script' % name
    for attrs, body in p.scripts:
        assert attrs.get('src'), '%s: a <script> without src' % name
        assert not body.strip(), '%s: an inline <script> body' % name
        assert attrs.get('type') == 'module', \
            '%s: %s is not a module' % (name, attrs['src'])
    assert not p.inline, '%s: CSP refuses %s' % (name, p.inline)


@pytest.mark.parametrize('script', OWN_JS)
def test_scripts_build_no_html_and_eval_nothing(script):
    text = (STATIC / script).read_text()
    for banned in ('innerHTML', 'outerHTML', 'insertAdjacentHTML',
                   'document.write', 'eval(', 'new Function',
                   'setTimeout(\'', 'setTimeout("'):
        assert banned not in text, '%s uses %s' % (script, banned)


def test_instance_name_goes_in_as_text():
    text = (STATIC / 'console-page.js').read_text()
    assert re.search(r"byId\('instance-name'\)\.textContent\s*=", text)
    assert re.search(r"byId\('instance-uuid'\)\.textContent\s*=", text)


@pytest.mark.parametrize('name', sorted(PAGES))
def test_elements_the_scripts_use_exist(name):
    ids = page(name).ids
    for script in ('console-page.js', PAGES[name]):
        wanted = set(ELEMENT_ID.findall((STATIC / script).read_text()))
        assert wanted <= ids, '%s: %s has no element %s' % (
            name, script, sorted(wanted - ids))


def test_pins_are_sha512_and_fetched_as_pinned():
    pins = re.findall(r'^\s*"(@[\w./-]+@[\w.-]+) (sha512-[A-Za-z0-9+/]+=*)"$',
                      FETCH.read_text(), re.M)
    assert {p.rsplit('@', 1)[0] for p, _ in pins} == {
        '@xterm/xterm', '@xterm/addon-fit', '@novnc/novnc'}
    if not vendor_fetched():
        pytest.skip(SKIP_VENDOR)
    fetched = (VENDOR / 'VERSIONS').read_text().split('\n')
    assert [' '.join(p) for p in pins] == [x for x in fetched if x], \
        'vendor/ is stale: run tools/fetch-console-assets'


def test_import_pattern_reads_module_specifiers():
    text = ("import RFB from '/a/rfb.js';\nimport {A, B}\n  from \"./b.js\";\n"
            "export * from '../c.js'; import './d.js'; import('./e.js');\n"
            "const important = 'no'; x.import = 1;")
    assert IMPORT.findall(text) == ['/a/rfb.js', './b.js', '../c.js',
                                    './d.js', './e.js']
