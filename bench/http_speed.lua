-- wrk script of bench/http_speed.sh: POSTs the body in the file named by
-- the environment variable FMAS_BODY to the path given to wrk, on every
-- keep-alive connection, and counts answers that are not 200.
local f = assert(io.open(os.getenv("FMAS_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local bad = 0
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("wrk_result requests_per_s %.0f p50_ms %.3f p99_ms %.3f errors %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
