"""How many functions carry full type annotations (issue 17's measure).

A function is "typed" when its return and all its parameters but a leading
self/cls (and *args/**kwargs) are annotated; nested functions and methods
count like any other.

    python -m tools.typed_functions agent virt net
"""
import ast
import pathlib
import sys


def typed(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    a = fn.args
    params = a.posonlyargs + a.args + a.kwonlyargs
    if params and params[0].arg in ('self', 'cls'):
        params = params[1:]
    params += [p for p in (a.vararg, a.kwarg) if p]
    return fn.returns is not None and all(p.annotation for p in params)


def count(roots: list[str]) -> tuple[int, int]:
    """(typed, total) over the .py files under ``roots``."""
    done = total = 0
    for root in roots:
        for path in sorted(pathlib.Path(root).rglob('*.py')):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    total += 1
                    done += typed(node)
    return done, total


def main(argv: list[str]) -> None:
    done, total = count(argv or ['agent', 'virt', 'net'])
    print('%d of %d functions fully annotated' % (done, total))


if __name__ == '__main__':
    main(sys.argv[1:])
