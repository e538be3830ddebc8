// The serial console: xterm.js over the console proxy's WebSocket. Every
// frame both ways is binary: the raw bytes of the guest's serial port.
import {Terminal} from '/static/vendor/xterm/xterm.mjs';
import {FitAddon} from '/static/vendor/xterm/addon-fit.mjs';
import {ConsolePage} from '/static/console-page.js';

const page = new ConsolePage('serial');
const term = new Terminal({
    convertEol: false,
    cursorBlink: true,
    scrollback: 5000,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace',
});
const fit = new FitAddon();
term.loadAddon(fit);
const screen = document.getElementById('screen');
term.open(screen);
fit.fit();
// the window's size, and the notice band coming and going
new ResizeObserver(() => fit.fit()).observe(screen);
page.term = term;

const encoder = new TextEncoder();

function send(bytes) {
    const ws = page.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
        ws.send(bytes);
    }
}

// keystrokes (and pasted text) as UTF-8; onBinary carries mouse reports
// made of bytes, one per character
term.onData((data) => send(encoder.encode(data)));
term.onBinary((data) => send(Uint8Array.from(data, (c) => c.charCodeAt(0))));

function connect() {
    page.setState('connecting');
    const ws = new WebSocket(page.wsURL(), ['binary']);
    ws.binaryType = 'arraybuffer';
    page.ws = ws;
    ws.addEventListener('open', () => {
        page.opened();
        page.setState('connected');
        term.focus();
    });
    ws.addEventListener('message', (event) => {
        if (typeof event.data === 'string') {
            term.write(event.data);
        } else {
            term.write(new Uint8Array(event.data));
        }
    });
    ws.addEventListener('close', (event) => {
        term.options.disableStdin = true;
        term.options.cursorBlink = false;
        page.closed(event.code, event.reason);
    });
}

page.prepare().then((go) => {
    if (go) {
        connect();
    } else {
        term.options.disableStdin = true;
    }
});
