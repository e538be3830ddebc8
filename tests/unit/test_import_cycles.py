"""No import cycles in agent/, virt/ and net/: not between modules (a
function-level import counts: it only hides the cycle), and not between
packages, where a service's ``rpcapi`` module stands apart. A client
module is what a service publishes for its callers (the agent calls the
conductor, the conductor casts to the agent), so it may import nothing of
its own package, only agent.rpc."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOPS = ('agent', 'virt', 'net')


def _modules():
    mods = {}
    for top in TOPS:
        for path in (ROOT / top).rglob('*.py'):
            parts = list(path.relative_to(ROOT).with_suffix('').parts)
            if parts[-1] == '__init__':
                parts.pop()
            mods['.'.join(parts)] = path
    return mods


MODULES = _modules()


def imports(name):
    """The project modules ``name`` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.level == 0:
            for alias in node.names:
                sub = '%s.%s' % (node.module, alias.name)
                found.add(sub if sub in MODULES else node.module)
    return {m for m in found if m in MODULES and m != name}


def cycles(graph):
    """The strongly connected components of more than one node."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def package_of(module):
    parts = module.split('.')
    if parts[-1].endswith('rpcapi'):     # a client: its own package
        return module
    return '.'.join(parts[:2]) if parts[0] == 'agent' else parts[0]


def test_no_module_import_cycle():
    graph = {m: imports(m) for m in MODULES}
    assert cycles(graph) == [], 'modules importing each other (break the ' \
        'cycle: move what both need into a third module)'


def test_no_package_import_cycle():
    graph = {}
    for m in MODULES:
        for target in imports(m):
            a, b = package_of(m), package_of(target)
            if a != b:
                graph.setdefault(a, set()).add(b)
    found = cycles(graph)
    detail = {p: sorted(graph[p] & set(c)) for c in found for p in c}
    assert found == [], 'packages importing each other: %s' % detail


def test_clients_import_only_the_rpc_package():
    clients = [m for m in MODULES if m.endswith('rpcapi')]
    assert {'agent.compute.rpcapi', 'agent.conductor.rpcapi',
            'agent.scheduler.rpcapi'} <= set(clients)
    for client in clients:
        # the rpc package, or a part of the same client (*_rpcapi beside it)
        service = client.rpartition('.')[0]
        assert all(m.startswith('agent.rpc') or (
            m.startswith(service + '.') and m.endswith('rpcapi'))
            for m in imports(client)), (client, imports(client))


def test_the_check_sees_a_cycle():
    assert cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [
        ['a', 'b', 'c']]
