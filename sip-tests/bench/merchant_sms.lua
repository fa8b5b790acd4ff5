-- wrk script: POST /api/v1/messages/sms with a fresh Idempotency-Key per request
-- (thread id + counter), so every request is a new logical send.
-- Environment: MKEY, MSECRET (the merchant pair), MERCHANT (merchant id).
local threads = {}
local counter = 0
id = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-KEY"] = os.getenv("MKEY")
  wrk.headers["X-API-SECRET"] = os.getenv("MSECRET")
  wrk.body = string.format(
    '{"merchantId":"%s","to":"+18135551234","message":"Your OTP is 123456","type":"OTP"}',
    os.getenv("MERCHANT") or "bench")
end

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = string.format("bench-%d-%d", id, counter)
  return wrk.format(nil, "/api/v1/messages/sms")
end
