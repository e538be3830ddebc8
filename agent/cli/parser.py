"""hvctl's argument parser, built from the command table."""
import argparse
import os

from agent.cli import commands


def add_args(parser, args):
    """Add Arg and Exclusive declarations to an argparse parser."""
    for arg in args:
        if isinstance(arg, commands.Exclusive):
            add_args(parser.add_mutually_exclusive_group(
                required=arg.required), arg.args)
            continue
        kwargs = dict(arg.kwargs)
        if arg.env:
            kwargs['default'] = os.environ.get(arg.env)
        parser.add_argument(*arg.flags, **kwargs)


def add_boot_options(parser):
    """Options of a boot beyond flavor and image (hvctl, all-in-one)."""
    add_args(parser, commands.BOOT_OPTIONS)


def build_parser():
    p = argparse.ArgumentParser(prog='hvctl', description=commands.SUMMARY)
    add_args(p, commands.GLOBAL_OPTIONS)
    sub = p.add_subparsers(dest='command', required=True, metavar='COMMAND')
    for command in commands.COMMANDS:
        add_args(sub.add_parser(command.name, help=command.help,
                                description=command.help), command.args)
    return p
