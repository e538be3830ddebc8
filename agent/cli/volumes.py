"""hvctl's Block Storage commands (through hvagent-api: the volumes and
their files are the API's)."""
from agent.cli import output


def volume_extend(b, args, out):
    """Grow a volume (attached or not) to ``--size`` GiB; its new record."""
    volume = b.volume_extend(args.volume_id, args.size)
    if args.json:
        out(output.dumps(volume))
    else:
        out('Volume %s: %d GiB, %s' % (volume['id'], volume['size'],
                                       volume['status']))
    return 0
