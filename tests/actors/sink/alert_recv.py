#!/usr/bin/env python3
"""alert_recv.py: loopback receivers for the alert tests (Python stdlib only).

  alert_recv.py smtp DIR [--port N] [--auth USER:PASS] [--tls]
  alert_recv.py http DIR [--port N] [--secret SECRET]

Listens on 127.0.0.1 (port 0 = any free one; the port is written to
DIR/port once listening) and records every message or request as
DIR/rec-NNNN.json (written atomically), numbering on from the files already
there (a restarted receiver keeps counting):

  smtp: {"n", "status", "mail_from", "rcpt": [...], "data", "auth", "tls"}
  http: {"n", "status", "path", "headers": {lower-case name: value}, "body",
         "sig_ok": true|false|null}   (sig_ok: X-Vigil-Signature checked with
         --secret as docs/ALERTS.md describes; null without --secret)

Behaviour is steered by files the test writes in DIR:
  DIR/fail   "N [CODE]": the next N messages are refused (SMTP: CODE at MAIL
             FROM, default 451; HTTP: CODE, default 500), N counting down
  DIR/delay  seconds to wait before answering (HTTP)
--tls makes the SMTP server offer STARTTLS with a self-signed certificate
for 127.0.0.1 (DIR/cert.pem, made with openssl); --auth requires AUTH
PLAIN or LOGIN with these credentials before MAIL.
"""
import base64
import hashlib
import hmac
import http.server
import json
import os
import socketserver
import ssl
import subprocess
import sys
import threading
import time

LOCK = threading.Lock()
DIR = "."
COUNT = [0]


def next_n():
    with LOCK:
        COUNT[0] += 1
        return COUNT[0]


def record(rec):
    path = os.path.join(DIR, "rec-%04d.json" % rec["n"])
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rec, f)
    os.rename(tmp, path)


def take_failure(default_code):
    """Returns the code to refuse with, or None; counts DIR/fail down."""
    path = os.path.join(DIR, "fail")
    with LOCK:
        try:
            parts = open(path).read().split()
        except OSError:
            return None
        if not parts or int(parts[0]) <= 0:
            return None
        code = int(parts[1]) if len(parts) > 1 else default_code
        with open(path + ".tmp", "w") as f:
            f.write("%d %d\n" % (int(parts[0]) - 1, code))
        os.rename(path + ".tmp", path)
        return code


def delay():
    try:
        time.sleep(float(open(os.path.join(DIR, "delay")).read().strip() or 0))
    except (OSError, ValueError):
        pass


# ---- webhook signature check (the example of docs/ALERTS.md) ----------------

def verify(secret, headers, body, tolerance=300):
    ts = headers.get("x-vigil-timestamp", "")
    sig = headers.get("x-vigil-signature", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > tolerance:
        return False  # missing, or too old: a replay
    mac = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(sig, "v1=" + mac)


# ---- HTTP -------------------------------------------------------------------

class HttpHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    secret = None

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        delay()
        code = take_failure(500) or 200
        rec = {"n": next_n(), "status": code, "path": self.path, "headers": headers,
               "body": body.decode("utf-8", "replace"),
               "sig_ok": verify(self.secret, headers, body) if self.secret else None}
        record(rec)  # before answering: once the sender sees 200, the record is there
        answer = b"ok" if code == 200 else b"refused by the test"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        self.wfile.flush()


# ---- SMTP -------------------------------------------------------------------

class SmtpHandler(socketserver.StreamRequestHandler):
    auth = None  # (user, password) required, or None
    tls_ctx = None

    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(65536)
        if not line:
            raise EOFError
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def check_auth(self, user, password):
        if self.auth and (user, password) == self.auth:
            self.authed = user
            self.reply("235 2.7.0 Authentication successful")
        else:
            self.reply("535 5.7.8 Authentication credentials invalid")

    def do_auth(self, args):
        mech = args[0].upper() if args else ""
        if mech == "PLAIN":
            data = args[1] if len(args) > 1 else None
            if data is None:
                self.reply("334 ")
                data = self.readline()
            parts = base64.b64decode(data).split(b"\0")
            self.check_auth(parts[1].decode(), parts[2].decode())
        elif mech == "LOGIN":
            self.reply("334 VXNlcm5hbWU6")
            user = base64.b64decode(self.readline()).decode()
            self.reply("334 UGFzc3dvcmQ6")
            self.check_auth(user, base64.b64decode(self.readline()).decode())
        else:
            self.reply("504 5.5.4 Unrecognized authentication type")

    def do_data(self):
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        lines = []
        while True:
            line = self.rfile.readline(65536)
            if not line:
                raise EOFError
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b".."):
                line = line[1:]
            lines.append(line)
        data = b"".join(lines).decode("utf-8", "replace")
        record({"n": next_n(), "status": 250, "mail_from": self.mail_from, "rcpt": self.rcpt,
                "data": data, "auth": self.authed, "tls": self.tls})
        self.reply("250 2.0.0 OK: queued")

    def handle(self):
        self.authed, self.tls = None, False
        self.mail_from, self.rcpt = None, []
        self.reply("220 127.0.0.1 ESMTP alert_recv")
        try:
            while True:
                line = self.readline()
                verb, _, rest = line.partition(" ")
                verb, args = verb.upper(), rest.split()
                if verb in ("EHLO", "HELO"):
                    caps = ["127.0.0.1", "8BITMIME", "SIZE 10000000"]
                    if self.tls_ctx and not self.tls:
                        caps.append("STARTTLS")
                    if self.auth:
                        caps.append("AUTH PLAIN LOGIN")
                    for c in caps[:-1]:
                        self.reply("250-" + c)
                    self.reply("250 " + caps[-1])
                elif verb == "STARTTLS" and self.tls_ctx and not self.tls:
                    self.reply("220 2.0.0 Ready to start TLS")
                    conn = self.tls_ctx.wrap_socket(self.request, server_side=True)
                    self.request = conn
                    self.rfile, self.wfile = conn.makefile("rb"), conn.makefile("wb")
                    self.tls = True
                elif verb == "AUTH":
                    self.do_auth(args)
                elif verb == "MAIL":
                    code = take_failure(451)
                    if self.auth and not self.authed:
                        self.reply("530 5.7.0 Authentication required")
                    elif code:
                        record({"n": next_n(), "status": code, "mail_from": rest, "rcpt": [],
                                "data": "", "auth": self.authed, "tls": self.tls})
                        self.reply("%d 4.3.0 refused by the test" % code)
                    else:
                        self.mail_from, self.rcpt = rest.split(":", 1)[1].split()[0], []
                        self.reply("250 2.1.0 OK")
                elif verb == "RCPT":
                    self.rcpt.append(rest.split(":", 1)[1].split()[0])
                    self.reply("250 2.1.5 OK")
                elif verb == "DATA":
                    self.do_data()
                elif verb in ("RSET", "NOOP"):
                    self.mail_from, self.rcpt = None, []
                    self.reply("250 2.0.0 OK")
                elif verb == "QUIT":
                    self.reply("221 2.0.0 Bye")
                    return
                else:
                    self.reply("502 5.5.2 Command not recognized")
        except (EOFError, ConnectionError, ssl.SSLError):
            return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    global DIR
    kind, DIR = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    opt = lambda name: args[args.index(name) + 1] if name in args else None
    port = int(opt("--port") or 0)
    COUNT[0] = len([f for f in os.listdir(DIR) if f.startswith("rec-") and f.endswith(".json")])
    if kind == "http":
        HttpHandler.secret = opt("--secret").encode() if opt("--secret") else None
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), HttpHandler)
        srv.daemon_threads = True
    else:
        if opt("--auth"):
            SmtpHandler.auth = tuple(opt("--auth").split(":", 1))
        if "--tls" in args:
            cert, key = os.path.join(DIR, "cert.pem"), os.path.join(DIR, "key.pem")
            if not os.path.exists(cert):
                subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                "-keyout", key, "-out", cert, "-days", "1",
                                "-subj", "/CN=127.0.0.1",
                                "-addext", "subjectAltName=IP:127.0.0.1"],
                               check=True, capture_output=True)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            SmtpHandler.tls_ctx = ctx
        srv = Server(("127.0.0.1", port), SmtpHandler)
    with open(os.path.join(DIR, "port.tmp"), "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
