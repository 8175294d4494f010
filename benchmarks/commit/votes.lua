-- wrk script for the commit benchmark's end-to-end run: POST /api/votes, each vote by a rater
-- of its own (so each one is a change), over the images in VOTE_IMAGES (comma-separated ids).
local ids = {}
local counter = 0

function init(args)
  for id in string.gmatch(os.getenv("VOTE_IMAGES") or "", "[^,]+") do ids[#ids + 1] = id end
end

function request()
  counter = counter + 1
  local body = string.format('{"image_id":"%s","rater":"wrk-%d","rating":"up"}', ids[counter % #ids + 1], counter)
  return wrk.format("POST", "/api/votes", { ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  io.write(string.format('WRK_JSON {"requests":%d,"non2xx":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
