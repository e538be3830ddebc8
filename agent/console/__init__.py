"""The interactive console: hvagent-console-proxy (WebSocket to a guest's
serial or VNC server, opened by a conductor-issued token) and the browser
pages it serves."""
