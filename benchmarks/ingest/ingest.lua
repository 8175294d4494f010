-- wrk script: cycles through pre-signed Slack Events API deliveries.
-- Each wrk thread reads its own file (REQUESTS_FILE .. "." .. thread index), one delivery a
-- line: "<timestamp> <signature> <json body>". Prints a JSON summary line at the end.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local deliveries = {}
local n = 0
local i = 0

function init(args)
  local base = os.getenv("REQUESTS_FILE")
  for line in io.lines(base .. "." .. tid) do
    local ts, sig, body = line:match("^(%S+) (%S+) (.*)$")
    n = n + 1
    deliveries[n] = wrk.format("POST", "/slack/events", {
      ["Content-Type"] = "application/json",
      ["X-Slack-Request-Timestamp"] = ts,
      ["X-Slack-Signature"] = sig,
    }, body)
  end
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return deliveries[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
