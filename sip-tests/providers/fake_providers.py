#!/usr/bin/env python3
"""A local test double for two SMS providers, for Switchyard's integration tests.

It speaks the HTTP wire formats of Twilio's Programmable Messaging API
(POST/GET /2010-04-01/Accounts/{Sid}/Messages[.json]) and Telnyx's Messaging
API v2 (POST/GET /v2/messages), accepts messages, walks them through their
status lifecycle in the background and sends signed status callbacks
(X-Twilio-Signature HMAC-SHA1; Telnyx Ed25519 over "timestamp|body").
A /_control API switches failure modes and shows what was received and sent.
It is for tests only: nothing is delivered anywhere.

usage: fake_providers.py --port 0 --twilio-sid AC... --twilio-token TOKEN
                         --telnyx-key KEY... [--ready-file PATH] [--verbose]
On start it prints (and writes to --ready-file, atomically) one JSON line:
{"port": N, "telnyx_public_key": "<base64 raw 32-byte Ed25519 public key>"}
"""
import argparse, base64, copy, hashlib, hmac, json, os, queue, re, signal, socket, sys
import threading, time, urllib.error, urllib.parse, urllib.request, uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

API = "2010-04-01"
MODES = ("ok", "undelivered", "error500", "accept_then_500", "hang", "down")
STEP = 0.1          # seconds between status transitions
RETRIES = 3         # callback retries after the first attempt
RETRY_GAP = 0.5     # seconds between callback attempts
HANG_SECONDS = 30
POOL_NUMBER = "+15005550006"  # sender picked when only a MessagingServiceSid is given
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
           "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXT = set("^{}\\[~]|€\f")
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
TW_MSGS = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
TW_MSG = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages/([^/]+)\.json$")
TX_MSG = re.compile(r"^/v2/messages/([^/]+)$")


def now():
    return datetime.now(timezone.utc)


def rfc2822(t):
    return format_datetime(t)  # e.g. "Tue, 02 Jan 2024 15:04:05 +0000"


def iso(t):
    return t.isoformat(timespec="milliseconds")


def public(m):
    return {k: v for k, v in m.items() if not k.startswith("_")}


def segments(text):
    """(encoding, number of SMS parts) for a text."""
    if all(c in GSM7 or c in GSM7_EXT for c in text):
        units, single, multi, enc = len(text) + sum(c in GSM7_EXT for c in text), 160, 153, "GSM-7"
    else:
        units, single, multi, enc = len(text.encode("utf-16-le")) // 2, 70, 67, "UCS-2"
    return enc, (1 if units <= single else -(-units // multi))


def twilio_error(code, message, status):
    return {"code": code, "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


def telnyx_error(code, title, detail, pointer=None):
    err = {"code": code, "title": title, "detail": detail,
           "meta": {"url": f"https://developers.telnyx.com/docs/overview/errors/{code}"}}
    if pointer:
        err["source"] = {"pointer": pointer}
    return {"errors": [err]}


def server_error(provider):
    if provider == "twilio":
        return twilio_error(20500, "An internal server error has occurred", 500)
    return telnyx_error("10007", "Unexpected error", "An unexpected error occurred.")


def twilio_signature(token, url, params):
    """Twilio's scheme: URL + each POST name+value sorted by name, HMAC-SHA1, base64."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.key = Ed25519PrivateKey.generate()
        self.org_id = str(uuid.uuid4())
        self.reset()

    def reset(self):
        self.twilio, self.telnyx, self.order, self.callbacks = {}, {}, [], []
        self.mode, self.count = "ok", None

    def take_mode(self):
        with self.lock:
            mode = self.mode
            if self.count is not None:
                self.count -= 1
                if self.count <= 0:
                    self.mode, self.count = "ok", None
            return mode

    # ---- background lifecycle -------------------------------------------------
    def lifecycle(self, provider, mid, fail):
        jobs = queue.Queue()
        threading.Thread(target=self.drain, args=(jobs,), daemon=True).start()
        advance = self.twilio_advance if provider == "twilio" else self.telnyx_advance
        for step in ("sent", "final"):
            time.sleep(STEP)
            job = advance(mid, step, fail)
            if job:
                jobs.put(job)
        jobs.put(None)

    def drain(self, jobs):
        """Delivers one message's callbacks in order; each URL with retries, then the next URL."""
        while (job := jobs.get()) is not None:
            provider, mid, event, targets = job
            for url, make in targets:
                if self.deliver(provider, mid, event, url, make):
                    break

    def deliver(self, provider, mid, event, url, make):
        for attempt in range(1, RETRIES + 2):
            body, headers = make(attempt)
            rec = {"provider": provider, "message_id": mid, "event": event, "url": url,
                   "attempt": attempt, "status": None, "error": None, "at": iso(now()),
                   "headers": headers, "body": body.decode()}
            try:
                req = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with NO_PROXY.open(req, timeout=5) as resp:
                    rec["status"] = resp.status
            except urllib.error.HTTPError as e:
                rec["status"] = e.code
            except Exception as e:  # unreachable, refused, timed out, bad URL
                rec["error"] = f"{type(e).__name__}: {e}"
            with self.lock:
                self.callbacks.append(rec)
            if rec["status"] is not None and 200 <= rec["status"] < 300:
                return True
            if attempt <= RETRIES:
                time.sleep(RETRY_GAP)
        return False

    def twilio_advance(self, sid, step, fail):
        with self.lock:
            m = self.twilio.get(sid)
            if m is None:
                return None
            t = now()
            m["date_updated"] = rfc2822(t)
            if step == "sent":
                m["status"], m["date_sent"] = "sent", rfc2822(t)
                m["_sent"] = t
                if m["from"] is None:
                    m["from"] = POOL_NUMBER
            elif fail:
                m["status"], m["error_code"] = "undelivered", 30003
                m["error_message"] = "Unreachable destination handset"
            else:
                m["status"], m["price"] = "delivered", "-0.00790"
            params = {"MessageSid": sid, "SmsSid": sid, "SmsStatus": m["status"],
                      "MessageStatus": m["status"], "AccountSid": m["account_sid"],
                      "From": m["from"], "To": m["to"], "ApiVersion": API}
            if m["messaging_service_sid"]:
                params["MessagingServiceSid"] = m["messaging_service_sid"]
            if m["status"] == "undelivered":
                params["ErrorCode"] = "30003"
            url = m["_callback"]
        if not url:
            return None
        token, idem = self.args.twilio_token, f"{sid}-{params['MessageStatus']}"

        def make(attempt):
            return urllib.parse.urlencode(params).encode(), {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": twilio_signature(token, url, params),
                "I-Twilio-Idempotency-Token": idem, "User-Agent": "TwilioProxy/1.1"}
        return ("twilio", sid, params["MessageStatus"], [(url, make)])

    def telnyx_advance(self, mid, step, fail):
        with self.lock:
            m = self.telnyx.get(mid)
            if m is None:
                return None
            t = now()
            if step == "sent":
                event, m["sent_at"] = "message.sent", iso(t)
                for r in m["to"]:
                    r["status"] = "sent"
            else:
                event, m["completed_at"] = "message.finalized", iso(t)
                m["cost"] = {"amount": "0.0040", "currency": "USD"}
                for r in m["to"]:
                    r["status"] = "delivery_failed" if fail else "delivered"
                if fail:
                    m["errors"] = [{"code": "40008", "title": "Undeliverable",
                                    "detail": "The message could not be delivered to the recipient."}]
            payload = copy.deepcopy(public(m))
            urls = [u for u in (m["webhook_url"], m["webhook_failover_url"]) if u]
        if not urls:
            return None
        event_id, occurred = str(uuid.uuid4()), iso(t)

        def maker(url):
            def make(attempt):
                body = json.dumps({"data": {"event_type": event, "id": event_id,
                                            "occurred_at": occurred, "payload": payload,
                                            "record_type": "event"},
                                   "meta": {"attempt": attempt, "delivered_to": url}},
                                  ensure_ascii=False).encode()
                ts = str(int(time.time()))
                sig = base64.b64encode(self.key.sign(ts.encode() + b"|" + body)).decode()
                return body, {"Content-Type": "application/json", "User-Agent": "telnyx-webhooks",
                              "telnyx-timestamp": ts, "telnyx-signature-ed25519": sig}
            return make
        return ("telnyx", mid, event, [(u, maker(u)) for u in urls])

    def control_messages(self):
        out = []
        for provider, mid in self.order:
            if provider == "twilio":
                m = self.twilio[mid]
                out.append({"provider": provider, "id": mid, "to": m["to"], "from": m["from"],
                            "body": m["body"], "status": m["status"], "callback_url": m["_callback"],
                            "received_at": iso(m["_created"]), "mode": m["_mode"]})
            else:
                m = self.telnyx[mid]
                out.append({"provider": provider, "id": mid, "to": m["to"][0]["phone_number"],
                            "from": m["from"]["phone_number"], "body": m["text"],
                            "status": m["to"][0]["status"], "callback_url": m["webhook_url"],
                            "received_at": m["received_at"], "mode": m["_mode"]})
        return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self):
        return "fake-providers/1"

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            super().log_message(fmt, *args)

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)):
                data += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return data
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send_json(self, code, obj, headers=None):
        body = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def drop(self):
        """Close the connection without answering."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def route(self, method):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        path, body = url.path, self.read_body()
        try:
            if path.startswith("/_control/"):
                self.control(method, path, body)
            elif (m := TW_MSGS.match(path)) and method == "POST":
                self.send_message("twilio", body, m.group(1))
            elif m:
                self.twilio_list(m.group(1), url)
            elif (m := TW_MSG.match(path)) and method == "GET":
                if self.twilio_authed(m.group(1)):
                    with st.lock:
                        msg = st.twilio.get(m.group(2))
                        msg = public(msg) if msg else None
                    if msg:
                        self.send_json(200, msg)
                    else:
                        self.send_json(404, twilio_error(
                            20404, f"The requested resource {path} was not found", 404))
            elif path == "/v2/messages" and method == "POST":
                self.send_message("telnyx", body)
            elif (m := TX_MSG.match(path)) and method == "GET":
                if self.telnyx_authed():
                    with st.lock:
                        msg = st.telnyx.get(m.group(1))
                        msg = public(msg) if msg else None
                    if msg:
                        self.send_json(200, {"data": msg})
                    else:
                        self.send_json(404, telnyx_error("10005", "Resource not found",
                                       "The requested resource or URL could not be found."))
            else:
                self.send_json(404, {"error": f"no route for {method} {path}"})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ---- control ------------------------------------------------------------
    def control(self, method, path, body):
        st = self.server.state
        if path == "/_control/mode" and method == "POST":
            try:
                req = json.loads(body or b"{}")
                mode, count = req.get("mode", "ok"), req.get("count")
                assert mode in MODES and (count is None or (isinstance(count, int) and count > 0))
            except (ValueError, AssertionError, AttributeError):
                return self.send_json(400, {"error": f"want {{\"mode\": one of {list(MODES)}, "
                                                     "\"count\": optional positive int}"})
            with st.lock:
                st.mode, st.count = mode, count
            return self.send_json(200, {"mode": mode, "count": count})
        with st.lock:
            if path == "/_control/mode":
                out = {"mode": st.mode, "count": st.count}
            elif path == "/_control/messages":
                out = st.control_messages()
            elif path == "/_control/callbacks":
                out = copy.deepcopy(st.callbacks)
            elif path == "/_control/reset" and method == "POST":
                st.reset()
                out = {"reset": True}
            else:
                out = None
        if out is None:
            return self.send_json(404, {"error": f"no control route {method} {path}"})
        self.send_json(200, out)

    # ---- auth ---------------------------------------------------------------
    def twilio_authed(self, path_sid):
        args, h = self.server.state.args, self.headers.get("Authorization", "")
        ok = False
        if h[:6].lower() == "basic ":
            try:
                user, _, pw = base64.b64decode(h[6:].strip()).decode().partition(":")
                ok = (hmac.compare_digest(user, args.twilio_sid) and path_sid == user
                      and hmac.compare_digest(pw, args.twilio_token))
            except (ValueError, UnicodeDecodeError):
                ok = False
        if not ok:
            self.send_json(401, twilio_error(20003, "Authenticate", 401),
                           {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        return ok

    def telnyx_authed(self):
        h = self.headers.get("Authorization", "")
        key = h[7:].strip() if h[:7].lower() == "bearer " else ""
        if key and hmac.compare_digest(key, self.server.state.args.telnyx_key):
            return True
        self.send_json(401, telnyx_error("10009", "Authentication failed",
                                         "The API key is missing, malformed or not valid."))
        return False

    # ---- sending --------------------------------------------------------------
    def send_message(self, provider, body, path_sid=None):
        st = self.server.state
        mode = st.take_mode()
        if mode == "down":
            return self.drop()
        if mode == "error500":
            return self.send_json(500, server_error(provider))
        if provider == "twilio":
            created = self.twilio_create(body, path_sid, mode)
        else:
            created = self.telnyx_create(body, mode)
        if created is None:
            return  # an error response was sent
        code, resource, mid = created
        threading.Thread(target=st.lifecycle, args=(provider, mid, mode == "undelivered"),
                         daemon=True).start()
        if mode == "accept_then_500":
            return self.send_json(500, server_error(provider))
        if mode == "hang":
            time.sleep(HANG_SECONDS)
        self.send_json(code, resource)

    def twilio_create(self, body, path_sid, mode):
        if not self.twilio_authed(path_sid):
            return None
        form = {k: v[0] for k, v in urllib.parse.parse_qs(
            body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        to, frm, mss = form.get("To", "").strip(), form.get("From") or None, form.get("MessagingServiceSid") or None
        text = form.get("Body", "")
        if not to:
            return self.send_json(400, twilio_error(21604, "A 'To' phone number is required.", 400))
        if not frm and not mss:
            return self.send_json(400, twilio_error(21603, "A 'From' phone number is required.", 400))
        if not text and not form.get("MediaUrl"):
            return self.send_json(400, twilio_error(21602, "Message body is required.", 400))
        st, t = self.server.state, now()
        sid, acct = "SM" + uuid.uuid4().hex, path_sid
        uri = f"/2010-04-01/Accounts/{acct}/Messages/{sid}.json"
        m = {"account_sid": acct, "api_version": API, "body": text,
             "date_created": rfc2822(t), "date_sent": None, "date_updated": rfc2822(t),
             "direction": "outbound-api", "error_code": None, "error_message": None,
             "from": frm, "messaging_service_sid": mss, "num_media": "0",
             "num_segments": str(segments(text)[1]), "price": None, "price_unit": "USD",
             "sid": sid, "status": "queued" if frm else "accepted",
             "subresource_uris": {"media": uri[:-5] + "/Media.json"}, "to": to, "uri": uri,
             "_callback": form.get("StatusCallback") or None, "_created": t, "_sent": None,
             "_mode": mode}
        with st.lock:
            st.twilio[sid] = m
            st.order.append(("twilio", sid))
            out = public(m)
        return 201, out, sid

    def twilio_list(self, path_sid, url):
        if not self.twilio_authed(path_sid):
            return
        st, q = self.server.state, urllib.parse.parse_qs(url.query, keep_blank_values=True)

        def qv(*names):
            return next((q[n][0] for n in names if n in q), None)
        to, frm, on = qv("To"), qv("From"), qv("DateSent")
        after, before = qv("DateSent>=", "DateSent>"), qv("DateSent<=", "DateSent<")
        try:
            page, size = int(qv("Page") or 0), min(max(int(qv("PageSize") or 50), 1), 1000)
        except ValueError:
            return self.send_json(400, twilio_error(20001, "Invalid paging parameters", 400))
        with st.lock:
            found = []
            for m in sorted(st.twilio.values(), key=lambda m: m["_created"], reverse=True):
                day = (m["_sent"] or m["_created"]).strftime("%Y-%m-%d")
                if ((to and m["to"] != to) or (frm and m["from"] != frm) or (on and day != on[:10])
                        or (after and day < after[:10]) or (before and day > before[:10])):
                    continue
                found.append(public(m))
        items = found[page * size:(page + 1) * size]
        filters = [(k, v[0]) for k, v in q.items() if k not in ("Page", "PageSize", "PageToken")]

        def page_uri(p):
            return url.path + "?" + urllib.parse.urlencode(filters + [("PageSize", size), ("Page", p)])
        self.send_json(200, {
            "messages": items, "page": page, "page_size": size, "start": page * size,
            "end": page * size + len(items) - 1, "uri": page_uri(page), "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if len(found) > (page + 1) * size else None,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None})

    def telnyx_create(self, body, mode):
        if not self.telnyx_authed():
            return None
        try:
            req = json.loads(body or b"{}")
            assert isinstance(req, dict)
        except (ValueError, AssertionError):
            return self.send_json(400, telnyx_error("10015", "Bad Request",
                                                    "The request body is not valid JSON."))
        to = req.get("to")
        tos = [to] if isinstance(to, str) and to else [x for x in to if x] if isinstance(to, list) else []
        frm, text, media = req.get("from"), req.get("text") or "", req.get("media_urls") or []
        if not tos:
            return self.send_json(422, telnyx_error("10005", "Invalid parameter",
                                  "The 'to' parameter is required.", "/to"))
        if not frm and not req.get("messaging_profile_id"):
            return self.send_json(422, telnyx_error("10005", "Invalid parameter",
                                  "The 'from' parameter is required.", "/from"))
        if not text and not media:
            return self.send_json(422, telnyx_error("10005", "Invalid parameter",
                                  "The 'text' parameter is required when no media is given.", "/text"))
        st, t, mid = self.server.state, now(), str(uuid.uuid4())
        encoding, parts = segments(text)
        m = {"record_type": "message", "direction": "outbound", "id": mid,
             "type": "MMS" if media else "SMS", "organization_id": st.org_id,
             "messaging_profile_id": req.get("messaging_profile_id"),
             "from": {"phone_number": frm or POOL_NUMBER, "carrier": "Telnyx", "line_type": "VoIP"},
             "to": [{"phone_number": n, "status": "queued", "carrier": "T-MOBILE USA, INC.",
                     "line_type": "Wireless"} for n in tos],
             "text": text, "subject": req.get("subject"),
             "media": [{"url": u, "content_type": None, "sha256": None, "size": None} for u in media],
             "webhook_url": req.get("webhook_url") or None,
             "webhook_failover_url": req.get("webhook_failover_url") or None,
             "encoding": encoding, "parts": parts, "tags": [], "cost": None,
             "received_at": iso(t), "sent_at": None, "completed_at": None,
             "valid_until": iso(t + timedelta(hours=4)), "errors": [], "_mode": mode}
        with st.lock:
            st.telnyx[mid] = m
            st.order.append(("telnyx", mid))
            out = {"data": public(m)}
        return 200, out, mid


def main():
    p = argparse.ArgumentParser(description="Fake Twilio/Telnyx messaging APIs for tests.")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free one)")
    p.add_argument("--twilio-sid", required=True, help="Twilio Account SID (Basic auth user)")
    p.add_argument("--twilio-token", required=True, help="Twilio auth token (password, HMAC key)")
    p.add_argument("--telnyx-key", required=True, help="Telnyx API key (Bearer token)")
    p.add_argument("--ready-file", help="write the ready JSON line here (atomically)")
    p.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = p.parse_args()

    state = State(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = state
    pub = state.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    line = json.dumps({"port": server.server_address[1],
                       "telnyx_public_key": base64.b64encode(pub).decode()})
    if args.ready_file:
        tmp = f"{args.ready_file}.tmp.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(line + "\n")
        os.replace(tmp, args.ready_file)
    print(line, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
