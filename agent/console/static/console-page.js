// What the serial and the VNC page share: the token from the address, the
// instance in the header bar (GET /info, which does not use the token up),
// the state line, the WebSocket address and what a close code means.
//
// The instance's name is the tenant's text: it goes in with textContent,
// never as HTML.

// what each page is, and how its user asks for a new link
const KINDS = {
    serial: {title: 'Serial console', option: '--serial'},
    vnc: {title: 'VNC console', option: '--novnc'},
};

// the console proxy's close codes (a reason string comes with each)
export const CLOSE_CODES = {
    1000: 'the guest closed its console',
    1001: 'the console proxy is stopping',
    1006: 'the connection to the console proxy was lost',
    1011: 'the console proxy could not check this link',
    4001: 'this console link is invalid, expired or already used',
    4003: 'this page\'s origin is not allowed by the console proxy',
    4009: 'the console is in use by another session',
    4011: 'the guest\'s console cannot be reached',
    4029: 'the console proxy is full',
};
// closes that leave the token unused: the same link may work again
const RETRY_CODES = new Set([1011, 4029]);

export function describeClose(code, reason) {
    const text = reason || CLOSE_CODES[code] || 'the connection closed';
    return `${text} (${code})`;
}

function byId(id) {
    return document.getElementById(id);
}

// One console page: window.hvconsole, read by people in the devtools and
// by the browser tests (state, detail, closeCode; the page adds term/rfb, ws).
export class ConsolePage {
    constructor(kind) {
        this.kind = kind;
        this.state = 'connecting';
        this.detail = '';
        this.closeCode = null;
        this.instance = null;
        this.token = new URLSearchParams(window.location.search).get('token');
        this.ws = null;
        this.wasOpen = false;
        byId('kind').textContent = KINDS[kind].title;
        window.hvconsole = this;
    }

    setState(state, detail = '') {
        this.state = state;
        this.detail = detail;
        const line = byId('state');
        line.dataset.state = state;
        line.textContent = detail ? `${state}: ${detail}` : state;
    }

    // a sentence and the command to run, in the red band under the bar
    notice(text, command) {
        const box = byId('notice');
        box.replaceChildren(document.createTextNode(text));
        if (command) {
            const code = document.createElement('code');
            code.textContent = command;
            box.append(' ', code);
        }
        box.hidden = false;
    }

    newLinkCommand() {
        const server = this.instance ? this.instance.uuid : '<server>';
        return `openstack console url show ${KINDS[this.kind].option} ${server}`;
    }

    showInstance(instance) {
        this.instance = {uuid: String(instance.uuid || ''),
                         name: String(instance.name || '')};
        byId('instance-name').textContent = this.instance.name;
        byId('instance-uuid').textContent = this.instance.uuid;
        const label = this.instance.name || this.instance.uuid;
        document.title = `${label} \u2013 ${KINDS[this.kind].title}`;
    }

    // GET /info: the instance for the header. Resolves true when the page
    // should connect: false when the link is known bad (404) or belongs to
    // the other page (then the browser is sent there, token and all).
    async prepare() {
        if (!this.token) {
            this.setState('disconnected', 'this address has no console token');
            this.notice('Ask for a console link:', this.newLinkCommand());
            return false;
        }
        let response;
        let body = null;
        try {
            response = await fetch(
                `/info?token=${encodeURIComponent(this.token)}`,
                {cache: 'no-store', headers: {Accept: 'application/json'}});
            body = await response.json();
        } catch (err) {
            // the header stays empty; the WebSocket tells the rest
            console.warn('console info unavailable:', err);
            return true;
        }
        if (response.ok && body && body.instance) {
            this.showInstance(body.instance);
            if ((body.protocol === 'vnc' || body.protocol === 'serial') &&
                    body.protocol !== this.kind) {
                window.location.replace(
                    `/${body.protocol}.html${window.location.search}`);
                return false;
            }
            return true;
        }
        if (response.status === 404) {
            const why = (body && body.error) || CLOSE_CODES[4001];
            this.setState('disconnected', why);
            this.notice('This console link cannot be used; ask for a new one:',
                        this.newLinkCommand());
            return false;
        }
        return true;
    }

    wsURL() {
        const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
        return `${scheme}://${window.location.host}/?token=` +
            encodeURIComponent(this.token);
    }

    // the session failed on this side (the VNC server refused, say)
    failed(detail) {
        if (this.state === 'disconnected') {
            return;
        }
        this.setState('disconnected', detail);
        this.notice('This console link was used; ask for a new one:',
                    this.newLinkCommand());
    }

    // the WebSocket is open (the proxy may still refuse it with a close)
    opened() {
        this.wasOpen = true;
    }

    // the WebSocket closed, with the proxy's code and reason; the token is
    // used up unless the proxy said otherwise, so the page says how to get
    // a new link
    closed(code, reason) {
        if (this.state === 'disconnected') {
            return;
        }
        this.closeCode = code;
        if (code === 1006 && !this.wasOpen) {
            // a refused handshake (a 403 for a foreign origin, say) or no
            // proxy there: the browser tells no more than 1006
            this.setState('disconnected', 'the console proxy refused the ' +
                          'connection or could not be reached (1006)');
            this.notice('Open the console link exactly as it was given, or ' +
                        'reload this page to try again.');
            return;
        }
        this.setState('disconnected', describeClose(code, reason));
        if (RETRY_CODES.has(code)) {
            this.notice('Reload this page to try again.');
        } else if (code === 4003) {
            this.notice('Open the console link exactly as it was given ' +
                        '(the proxy accepts pages from its own address only).');
        } else {
            this.notice('This console link was used; ask for a new one:',
                        this.newLinkCommand());
        }
    }
}
