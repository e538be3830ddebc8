// The VNC console: noVNC's RFB over the console proxy's WebSocket, which
// carries raw RFB in binary frames. The page opens the WebSocket itself and
// hands it to RFB, so that it sees the proxy's close code and reason.
import RFB from '/static/vendor/novnc/core/rfb.js';
import {ConsolePage} from '/static/console-page.js';

const page = new ConsolePage('vnc');
const screen = document.getElementById('screen');
const passwordForm = document.getElementById('password-form');
const password = document.getElementById('password');

function connect() {
    page.setState('connecting');
    const ws = new WebSocket(page.wsURL(), ['binary']);
    ws.binaryType = 'arraybuffer';
    page.ws = ws;
    ws.addEventListener('open', () => page.opened());
    // registered before RFB sets ws.onclose: runs first, with the code
    ws.addEventListener('close', (event) => {
        passwordForm.hidden = true;
        if (event.code === 1005) {
            // RFB closed it without a status: a failure on this side
            page.failed('the VNC session failed (the browser console says why)');
        } else {
            page.closed(event.code, event.reason);
        }
    });
    let rfb;
    try {
        rfb = new RFB(screen, ws);
    } catch (err) {
        page.failed(`the VNC client could not start: ${err.message}`);
        ws.close();
        return;
    }
    rfb.scaleViewport = true;
    rfb.resizeSession = false;
    rfb.background = '#000';
    page.rfb = rfb;
    rfb.addEventListener('connect', () => {
        page.setState('connected');
        rfb.focus();
    });
    rfb.addEventListener('disconnect', (event) => {
        // the WebSocket's close has said it all, unless RFB ended first
        page.failed(event.detail.clean ? 'the VNC session ended'
            : 'the VNC session failed (the browser console says why)');
    });
    rfb.addEventListener('securityfailure', (event) => {
        const why = event.detail.reason || `status ${event.detail.status}`;
        page.failed(`the guest's VNC server refused the session: ${why}`);
    });
    rfb.addEventListener('credentialsrequired', () => {
        passwordForm.hidden = false;
        password.focus();
    });
    passwordForm.addEventListener('submit', (event) => {
        event.preventDefault();
        passwordForm.hidden = true;
        rfb.sendCredentials({password: password.value});
        password.value = '';
    });
}

page.prepare().then((go) => {
    if (go) {
        connect();
    }
});
