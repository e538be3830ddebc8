"""hvctl's entry point: parse, choose the back end, run the command."""
import sys

from oslo_config import cfg

import agent.conf  # noqa: F401
from agent import exception
from agent.cli import api_backend
from agent.cli import bus_backend
from agent.cli import commands
from agent.cli import parser

CONF = cfg.CONF


def run(args, conductor, ctxt, out=print):
    """Carry out one parsed command over RPC; return the exit code."""
    return commands.BY_NAME[args.command].run(
        bus_backend.Backend(conductor, ctxt), args, out)


def main(argv=None):
    """An endpoint (--endpoint, $HVAGENT_ENDPOINT) chooses hvagent-api;
    else hvctl reads its configuration (the arguments it does not know
    are oslo.config's: --config-file...) and calls the conductor."""
    args, rest = parser.build_parser().parse_known_args(
        sys.argv[1:] if argv is None else argv)
    command = commands.BY_NAME[args.command]
    if commands.LOCAL in command.serves:
        return command.run(None, args, print)
    if args.endpoint:
        return api_backend.serve(command, args)
    if command.serves == {commands.API}:
        raise SystemExit('hvctl: %s needs --endpoint or $HVAGENT_ENDPOINT'
                         % args.command)
    CONF(rest, project='hvagent')
    if commands.CONF in command.serves:
        try:
            return command.run(None, args, print)
        except exception.HVAgentError as e:
            return bus_backend.error(e)
    return bus_backend.serve(command, args)
