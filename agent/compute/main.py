"""hvagent-compute: the node daemon serving compute.<host>."""
import sys

from oslo_config import cfg

from agent import context
from agent.compute import manager as compute_manager
from agent.compute import node_identity
from agent.compute import resource_tracker
from agent.compute import vifs
from agent.conductor import rpcapi as conductor_rpcapi
from agent.conf import api as api_conf
from agent.daemon import service
from agent.metrics import compute as compute_metrics
from agent.metrics import server as metrics_server
from agent.rpc import outage
from agent.rpc import servers
from agent.security import bus_auth
from net import privsep
from virt import driver as virt_driver

CONF = cfg.CONF
BINARY = 'hvagent-compute'
#: seconds between a change and the resource report it asks for
REPORT_SETTLE = 0.1


def build_service(driver=None, conductor=None):
    """Open the metrics endpoint (first: a taken port fails the start at
    once), connect the driver, recover this host's instances, serve the
    queue."""
    return metrics_server.build_with_metrics(
        BINARY, 'compute_port', lambda m: _build(driver, conductor, m))


def _build(driver, conductor, metrics, host=None, state_path=None):
    """``host`` and ``state_path`` (default: the options of those names)
    let one process serve several simulated hosts (tools/fleet)."""
    host = host or CONF.host
    ctxt = context.admin_context()
    driver = driver or virt_driver.load_driver(
        CONF.compute.compute_driver, image_service=virt_driver.ImageService(
            api_conf.public_url(CONF), CONF.api.ca_file))
    # reports fail fast while the broker is away (the tracker retries them
    # itself); every other call waits for the broker, however long
    # signed as this host: the conductor lets it see only its own
    # instances and ports
    me = bus_auth.compute_principal(host)
    reports = conductor or conductor_rpcapi.ConductorAPI(fail_fast=True, principal=me)
    conductor = conductor or conductor_rpcapi.ConductorAPI(principal=me)
    tracker = resource_tracker.ResourceTracker(
        driver, reports, host,
        node_identity.get_node_uuid(state_path or CONF.state_path),
        binary=BINARY)
    # a change (build, delete) asks for a report on the report thread (the
    # operation that caused it does not wait for it) REPORT_SETTLE seconds
    # later: a burst of changes makes one report, sent after the burst
    reporter = service.Periodic('resource-report', CONF.report_interval,
                                lambda: tracker.report(ctxt), run_now=False,
                                settle=REPORT_SETTLE,
                                cancel=tracker.stopping.set)
    networking = vifs.HostNetworking(
        conductor, host,
        driver.capabilities.get('creates_vif_devices', False))
    manager = compute_manager.ComputeManager(driver, conductor, host,
                                             networking=networking)
    if metrics is not None:
        metrics.add(*compute_metrics.collectors(
            driver, manager.metrics, tracker, CONF.compute.instances_path))
    service.wait_for_bus_key(BINARY)
    # started with the conductor (one node, systemd starting both at
    # once), the first call would go out before the conductor's queue
    # exists and be dropped: ask until it answers
    service.wait_for(BINARY, 'the conductor (topic %s)' % conductor_rpcapi.AGENT_TOPIC,
                     lambda: reports.instances_get_by_host(ctxt, host=host)
                     is not None, outage.NOT_THERE)
    service.status('%s: connecting to the hypervisor (%s driver), '
                   'recovering this host\'s instances'
                   % (BINARY, CONF.compute.compute_driver))
    manager.init_host(ctxt)
    # one report after recovery, synchronous so a missing conductor fails
    # the start; from then on changes kick the report thread
    service.status('%s: reporting resources to the conductor' % BINARY)
    tracker.report(ctxt, raise_errors=True)
    manager.report_callback = reporter.kick
    driver.register_event_listener(
        lambda uuid, _power: manager.handle_lifecycle_event(ctxt, uuid))
    server = servers.get_server(
        bus_auth.COMPUTE_TOPIC, host, [manager],
        audience=bus_auth.Audience(host=host))
    periodics = [reporter]
    if CONF.compute.sync_power_state_interval:
        periodics.append(service.Periodic(
            'power-state-sync', CONF.compute.sync_power_state_interval,
            lambda: manager.sync_power_states(ctxt), run_now=False))
    if CONF.compute.network_resync_interval:
        periodics.append(network_resync(networking, ctxt))
    if CONF.compute.image_cache_manager_interval:
        periodics.append(service.Periodic(
            'image-cache', CONF.compute.image_cache_manager_interval,
            driver.manage_image_cache, run_now=False))
    svc = service.Service(BINARY, [server], periodics,
                          on_stop=[driver.cleanup_host])
    svc.manager, svc.tracker, svc.driver = manager, tracker, driver
    return svc


def network_resync(networking, ctxt):
    """The safety net under the conductor's refresh_networking casts: the
    host's DHCP, filters and NAT rebuilt from the conductor's view every
    [compute] network_resync_interval seconds (a lost cast, a change the
    conductor made without one)."""
    return service.Periodic('network-resync',
                            CONF.compute.network_resync_interval,
                            lambda: networking.resync(ctxt), run_now=False)


def start_privsep():
    """Under the unit (net/privsep.confined): fork the privileged helper,
    which keeps CAP_NET_ADMIN/NET_BIND_SERVICE/NET_RAW, and drop every
    capability of this process. First thing: no thread may exist yet
    (capabilities are per thread). docs/privileges.md. Returns why it
    refuses to start (the unit grants only part of the set), else None."""
    if not privsep.confined():
        return None
    lacking = privsep.missing()
    if lacking:
        return ('%s cannot start: it holds only part of the capabilities '
                'its privileged helper needs (missing %s): grant all of '
                'CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW in '
                'AmbientCapabilities=' % (BINARY, ', '.join(lacking)))
    privsep.start()
    return None


def main(argv=None):
    refused = start_privsep()
    if refused:
        print(refused, file=sys.stderr)
        return service.EXIT_REFUSED
    return service.run(build_service, argv)
