#!/usr/bin/python3
"""A stand-in for Mailpit (axllent/mailpit): what odoo-ci and its tests use of it.

SMTP on :1025 accepts every message (aiosmtpd, as Mailpit accepts without auth by default);
HTTP on :8025 serves the messages through Mailpit's v1 REST API shapes. Messages live in
memory, newest first, as Mailpit lists them.
"""
import email
import email.policy
import email.utils
import http.server
import json
import threading
import time
import uuid

from aiosmtpd.controller import Controller

MESSAGES = []
LOCK = threading.Lock()


def address(value):
    name, addr = email.utils.parseaddr(value or "")
    return {"Name": name, "Address": addr}


def addresses(values):
    return [{"Name": n, "Address": a} for n, a in email.utils.getaddresses(values or [])]


def text_of(msg):
    part = msg.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


class Handler:
    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = text_of(msg)
        summary = {
            "ID": str(uuid.uuid4()),
            "MessageID": (msg.get("Message-Id") or "").strip("<>"),
            "Read": False,
            "From": address(msg.get("From") or envelope.mail_from),
            "To": addresses(msg.get_all("To")) or [{"Name": "", "Address": a} for a in envelope.rcpt_tos],
            "Cc": addresses(msg.get_all("Cc")),
            "Bcc": [],
            "ReplyTo": addresses(msg.get_all("Reply-To")),
            "Subject": msg.get("Subject") or "",
            "Created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "Tags": [],
            "Size": len(raw),
            "Attachments": 0,
            "Snippet": " ".join(text.split())[:250],
        }
        full = dict(summary, Date=msg.get("Date") or summary["Created"], Text=text, HTML="",
                    Inline=[], Attachments=[])
        with LOCK:
            MESSAGES.insert(0, (summary, full))
        return "250 OK"


class Api(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body, kind="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        with LOCK:
            listed = [s for s, _ in MESSAGES]
            found = {s["ID"]: f for s, f in MESSAGES}
        if path in ("/livez", "/readyz"):
            self.reply(200, b"ok", "text/plain")
        elif path == "/api/v1/messages":
            self.reply(200, {"total": len(listed), "unread": sum(not s["Read"] for s in listed),
                             "count": len(listed), "messages_count": len(listed), "start": 0,
                             "tags": [], "messages": listed})
        elif path.startswith("/api/v1/message/") and path.rsplit("/", 1)[1] in found:
            self.reply(200, found[path.rsplit("/", 1)[1]])
        elif path == "/":
            self.reply(200, b"<html><title>Mailpit</title><body>%d messages</body></html>" % len(listed),
                       "text/html")
        else:
            self.reply(404, b"Not found", "text/plain")

    def do_DELETE(self):
        if self.path.split("?", 1)[0] == "/api/v1/messages":
            with LOCK:
                MESSAGES.clear()
            self.reply(200, b"ok", "text/plain")
        else:
            self.reply(404, b"Not found", "text/plain")

    def log_message(self, fmt, *args):
        pass


def main():
    smtp = Controller(Handler(), hostname="0.0.0.0", port=1025)
    smtp.start()
    print("[smtpd] accepting on 0.0.0.0:1025", flush=True)
    print("[http] accessible via http://0.0.0.0:8025/", flush=True)
    http.server.ThreadingHTTPServer(("0.0.0.0", 8025), Api).serve_forever()


if __name__ == "__main__":
    main()
